import { oncePerRequest } from "../../src/graphql/rules/once-per-request";

describe("oncePerRequest", () => {
  it("reads once per request and key, sharing the result; other requests read again", async () => {
    let reads = 0;
    const read = async () => ++reads;
    const request = {};
    const results = await Promise.all([oncePerRequest(request, "sessions", read), oncePerRequest(request, "sessions", read)]);
    expect(results).toEqual([1, 1]);
    expect(await oncePerRequest(request, "users", read)).toBe(2);
    expect(await oncePerRequest({}, "sessions", read)).toBe(3);
  });
});
