import { MeDocument, RefreshWithCookieDocument } from "../../schema/generated/graphql";
import type { TestApi } from "../support/api";
import { register, send, uniqueEmail } from "../support/client";
import { dpopHeaders, dpopKey, proof, type DpopKey } from "../support/dpop";
import { CookieJar, signInAtProvider, startApiWithProvider, visit, type ProviderAccount, type TestProvider } from "../support/oidc";
import { startRedis, type TestRedis } from "../support/redis";

// A provider sign-in (a real oidc-provider, test/support/oidc-provider.mjs) under DPoP: the browser
// names its key at the start (`dpop_jkt`, RFC 9449 §10) and the session the callback starts is
// bound to it, refresh cookie included.
const accounts: Record<string, ProviderAccount> = {};
const account = (label: string) => {
  const login = `${label}-${Object.keys(accounts).length}`;
  accounts[login] = { email: uniqueEmail(label), email_verified: true };
  return { login, email: accounts[login]!.email };
};
const bound = account("bound");
const admin = account("admin");

let redis: TestRedis;
let strict: { api: TestApi; provider: TestProvider; origin: string };
let forAdmins: { api: TestApi; provider: TestProvider; origin: string };

beforeAll(async () => {
  redis = await startRedis();
  [strict, forAdmins] = await Promise.all([
    startApiWithProvider({ redisUrl: redis.url, accounts, env: { DPOP: "required" } }),
    startApiWithProvider({ redisUrl: redis.url, accounts, env: { DPOP_REQUIRED_FOR_ROLES: "ADMIN" } }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([strict?.api.stop(), forAdmins?.api.stop()]);
  await Promise.all([strict?.provider.stop(), forAdmins?.provider.stop(), redis?.destroy()]);
});

const startUrl = (origin: string, query: Record<string, string>) => `${origin}/auth/oidc/corp/start?${new URLSearchParams({ redirect_to: `${origin}/signed-in`, ...query })}`;

/** The browser's whole provider sign-in from the start URL: where the callback sent it, and the refresh cookie it set. */
async function signIn(origin: string, login: string, query: Record<string, string> = {}) {
  const jar = new CookieJar();
  const started = await visit(jar, startUrl(origin, query));
  expect(started.status).toBe(302);
  const callbackUrl = await signInAtProvider(jar, started.headers.get("location")!, login, `${origin}/auth/oidc/corp/callback`);
  const answer = await visit(jar, callbackUrl);
  const line = answer.headers.getSetCookie().find((cookie) => cookie.startsWith("refresh_token="));
  return { status: answer.status, location: new URL(answer.headers.get("location")!), refresh: line && /^refresh_token=([^;]*)/.exec(line)![1] };
}

const refreshWithCookie = (api: TestApi, refresh: string, headers: Record<string, string> = {}) =>
  send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie: `refresh_token=${refresh}`, ...headers } });

describe("a provider sign-in under DPOP=required", () => {
  it("refuses a start without dpop_jkt with 401 DPOP_PROOF_REQUIRED, and a malformed one with 400: no flow, never a 500", async () => {
    const jar = new CookieJar();
    const refused = await visit(jar, startUrl(strict.origin, {}));
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('DPoP error="invalid_dpop_proof", algs="ES256 RS256 EdDSA"');
    expect(await refused.json()).toMatchObject({ errors: [{ extensions: { code: "DPOP_PROOF_REQUIRED" } }] });
    expect(refused.headers.getSetCookie()).toEqual([]);
    const malformed = await visit(jar, startUrl(strict.origin, { dpop_jkt: "not a thumbprint" }));
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ errors: [{ extensions: { code: "INVALID_DPOP_PROOF" } }] });
  });

  it("binds the session to dpop_jkt: the refresh cookie needs a proof from that key, and gives DPoP-bound tokens", async () => {
    const key: DpopKey = await dpopKey();
    const { status, location, refresh } = await signIn(strict.origin, bound.login, { dpop_jkt: key.jkt });
    expect(status).toBe(303);
    expect(location.searchParams.get("error")).toBeNull();
    expect(refresh).toBeTruthy();
    // The cookie copied without the key is worth nothing, and is not spent by trying.
    expect((await refreshWithCookie(strict.api, refresh!)).error).toMatchObject({ reason: "INVALID_DPOP_PROOF" });
    expect((await refreshWithCookie(strict.api, refresh!, { dpop: await proof(await dpopKey(), { htu: strict.api.url }) })).error).toMatchObject({ reason: "INVALID_DPOP_PROOF" });
    const refreshed = await refreshWithCookie(strict.api, refresh!, { dpop: await proof(key, { htu: strict.api.url }) });
    expect(refreshed.errors).toBeUndefined();
    const payload = refreshed.data!.refresh;
    expect(payload.tokenType).toBe("DPoP");
    const me = await send(strict.api.url, MeDocument, {}, { headers: dpopHeaders(payload.accessToken, await proof(key, { htu: strict.api.url, accessToken: payload.accessToken })) });
    expect(me.data?.me.email).toBe(bound.email);
    expect((await send(strict.api.url, MeDocument, {}, { token: payload.accessToken })).error).toMatchObject({ reason: "DPOP_PROOF_REQUIRED" });
  });
});

describe("a provider sign-in of a DPOP_REQUIRED_FOR_ROLES holder", () => {
  it("sends the browser back with ?error=DPOP_PROOF_REQUIRED when it started without dpop_jkt, and signs in with one", async () => {
    const { api } = forAdmins;
    const user = await register(api.url, { email: admin.email });
    const now = Date.now();
    await api.store.putMailToken(user.user.id, "email_verification", { hash: "test-hash", expiresAt: now + 60_000, email: admin.email });
    expect((await api.store.verifyEmail({ userId: user.user.id, hash: "test-hash", now }))?.emailVerified).toBe(true);
    await api.store.setUserRoles(user.user.id, ["USER", "ADMIN"]);

    const unbound = await signIn(forAdmins.origin, admin.login);
    expect(unbound.status).toBe(303);
    expect(unbound.location.searchParams.get("error")).toBe("DPOP_PROOF_REQUIRED");
    expect(unbound.refresh).toBeUndefined();

    const key = await dpopKey();
    const signedIn = await signIn(forAdmins.origin, admin.login, { dpop_jkt: key.jkt });
    expect(signedIn.location.searchParams.get("error")).toBeNull();
    const refreshed = await refreshWithCookie(api, signedIn.refresh!, { dpop: await proof(key, { htu: api.url }) });
    expect(refreshed.data?.refresh).toMatchObject({ tokenType: "DPoP", user: { id: user.user.id } });
  });
});
