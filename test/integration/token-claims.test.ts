import { startApi, TEST_ISSUER, type TestApi } from "../support/api";
import { register } from "../support/client";
import { claimsOf, headerOf } from "../support/keys";

/** RFC 9068 §2.2: the claims every JWT access token carries. */
const RFC_9068_REQUIRED = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"];

describe("access tokens carry RFC 9068's claims", () => {
  let api: TestApi;
  let named: TestApi;
  beforeAll(async () => {
    api = await startApi(null);
    named = await startApi(null, { JWT_CLIENT_ID: "web-app" });
  });
  afterAll(async () => {
    await api.stop();
    await named.stop();
  });

  it("has every required claim and typ at+jwt, with client_id the issuer by default", async () => {
    const { accessToken } = await register(api.url);
    const claims = claimsOf(accessToken);
    expect(Object.keys(claims)).toEqual(expect.arrayContaining(RFC_9068_REQUIRED));
    expect(claims.client_id).toBe(TEST_ISSUER);
    expect(headerOf(accessToken).typ).toBe("at+jwt");
  });

  it("takes client_id from JWT_CLIENT_ID", async () => {
    const { accessToken } = await register(named.url);
    expect(claimsOf(accessToken).client_id).toBe("web-app");
  });
});
