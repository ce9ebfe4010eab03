import { decodeAccessLine, encodeAccessLine } from "../../src/store/redis/access-line";
import type { UserRecord } from "../../src/store/store";

const user: UserRecord = {
  id: "8c0a7f1e-5d2b-4c6a-9f3e-1b2c3d4e5f60",
  email: "a|b@example.com",
  roles: ["USER", "ADMIN"],
  createdAt: 1_765_000_000_123,
  disabled: true,
  mfaEnabled: false,
  emailVerified: true,
};

describe("the compact access record", () => {
  it("reads back the record it was written from, an address with a | included", () => {
    expect(encodeAccessLine(user, 7)).toBe("1|7|101|1765000000123|USER,ADMIN|a|b@example.com");
    expect(decodeAccessLine(user.id, encodeAccessLine(user, 7))).toEqual(user);
  });

  it("keeps absent flags absent and no roles as none: the record read back is the record written", () => {
    const plain: UserRecord = { id: user.id, email: "x@example.com", roles: [], createdAt: 1, disabled: false };
    expect(encodeAccessLine(plain, 0)).toBe("1|0|0--|1||x@example.com");
    expect(decodeAccessLine(user.id, encodeAccessLine(plain, 0))).toStrictEqual(plain);
  });

  it("reads a layout it does not know, or a cut line, as no user: fail closed", () => {
    expect(decodeAccessLine(user.id, "2|7|000|1|USER|x@example.com")).toBeNull();
    expect(decodeAccessLine(user.id, "1|7|000|1")).toBeNull();
    expect(decodeAccessLine(user.id, "")).toBeNull();
  });
});
