import { jose, openid } from "../../src/auth/federation/openid";
import { register, PASSWORD, uniqueEmail } from "../support/client";
import { authorizeInBrowser, CookieJar, registerClient, startOAuthApi } from "../support/oauth";
import type { TestApi } from "../support/api";

type Configuration = import("openid-client", { with: { "resolution-mode": "import" } }).Configuration;

// The API as an OAuth 2.1 / OpenID provider (issue 28), on the embedded store; a relying party is
// openid-client 6, and tokens are checked with jose alone against the published JWKS.
const CALLBACK = "http://127.0.0.1:9/callback";
const SECRET = "a-client-secret-that-is-long-and-random-0123456789";
let api: TestApi & { issuer: string };

beforeAll(async () => {
  api = await startOAuthApi(null);
  await registerClient(api, { clientId: "web-app", redirectUris: [CALLBACK], grantTypes: ["authorization_code", "refresh_token"], scopes: ["openid", "email", "api"] }, SECRET);
  await registerClient(api, { clientId: "reports", grantTypes: ["client_credentials"], scopes: ["reports:read"] }, SECRET);
});
afterAll(() => api?.stop());

async function rp(clientId: string, secret = SECRET): Promise<Configuration> {
  return openid.discovery(new URL(api.issuer), clientId, undefined, openid.ClientSecretBasic(secret), { execute: [openid.allowInsecureRequests] });
}

describe("the OAuth provider", () => {
  it("publishes discovery with every endpoint, and the API's key set as its JWKS", async () => {
    const discovery = (await (await fetch(`${api.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(api.issuer);
    for (const endpoint of ["authorization_endpoint", "token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint", "end_session_endpoint", "userinfo_endpoint"]) {
      expect(String(discovery[endpoint])).toMatch(new RegExp(`^${api.issuer}/oauth/`));
    }
    expect(discovery.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "refresh_token", "client_credentials"]));
    expect(discovery.grant_types_supported).not.toContain("implicit");
    expect(discovery.grant_types_supported).not.toContain("password");
    expect(discovery.response_types_supported).toEqual(["code"]);
    expect(discovery.code_challenge_methods_supported).toEqual(["S256"]);
    const published = (await (await fetch(String(discovery.jwks_uri))).json()) as { keys: { kid: string }[] };
    const own = (await (await fetch(`${api.issuer}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(published.keys.map((key) => key.kid)).toEqual(own.keys.map((key) => key.kid));
  });

  it("signs a user in with code + PKCE, and the tokens verify with jose against the JWKS", async () => {
    const email = uniqueEmail("oauth");
    await register(`${api.issuer}/graphql`, { email });
    const config = await rp("web-app");
    const verifier = openid.randomPKCECodeVerifier();
    const state = openid.randomState();
    const nonce = openid.randomNonce();
    const url = openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid email api", code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state, nonce });
    const callback = await authorizeInBrowser(new CookieJar(), url.href, email, PASSWORD, CALLBACK);
    const tokens = await openid.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload: idToken } = await jose.jwtVerify(tokens.id_token!, jwks, { issuer: api.issuer, audience: "web-app" });
    expect(idToken.email).toBe(email);
    expect(idToken.acr).toBe("aal1");
    const { payload: access, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, { issuer: api.issuer, audience: api.config.jwt.audience, typ: "at+jwt" });
    expect(protectedHeader.alg).toBe("ES256");
    expect(access).toMatchObject({ sub: idToken.sub, client_id: "web-app", scope: expect.stringContaining("api") });
    expect(typeof access.sid).toBe("string");
    expect(typeof access.jti).toBe("string");
    expect(tokens.refresh_token).toBeDefined();
  });

  it("gives a service a token for its scopes with client credentials", async () => {
    const config = await rp("reports");
    const tokens = await openid.clientCredentialsGrant(config, { scope: "reports:read" });
    const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload } = await jose.jwtVerify(tokens.access_token, jwks, { issuer: api.issuer, typ: "at+jwt" });
    expect(payload).toMatchObject({ client_id: "reports", scope: "reports:read", sub: "reports" });
  });
});
