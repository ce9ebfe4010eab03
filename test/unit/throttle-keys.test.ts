import { clientKey } from "../../src/auth/shared/client-key";

describe("clientKey: who a throttling counter counts", () => {
  it("counts an IPv4 address by itself", () => {
    expect(clientKey("203.0.113.7")).toBe("203.0.113.7");
  });

  it("counts an IPv6 address by its /64, however it is written", () => {
    const key = "2001:db8:0:1::/64";
    expect(clientKey("2001:db8:0:1::1")).toBe(key);
    expect(clientKey("2001:0db8:0000:0001:ffff:ffff:ffff:ffff")).toBe(key);
    expect(clientKey("2001:DB8:0:1:a:b:c:d")).toBe(key);
    expect(clientKey("2001:db8:0:1::1%eth0")).toBe(key);
    expect(clientKey("2001:db8:0:2::1")).not.toBe(key);
    expect(clientKey("::1")).toBe("0:0:0:0::/64");
    expect(clientKey("2001:db8::")).toBe("2001:db8:0:0::/64");
    expect(clientKey("64:ff9b::192.0.2.33")).toBe("64:ff9b:0:0::/64");
  });

  it("keeps anything else as it is", () => {
    expect(clientKey("unknown")).toBe("unknown");
  });
});
