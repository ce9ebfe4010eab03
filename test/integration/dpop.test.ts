import { jose } from "../../src/auth/federation/openid";
import WebSocket from "ws";
import { LoginDocument, MeDocument, RefreshDocument, SetUserRolesDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { PASSWORD, post, register, send, uniqueEmail, type GraphQLResponse } from "../support/client";
import { boundSignIn as signInBound, dpopHeaders, dpopKey, hmacProof, proof, unsignedProof, type DpopKey } from "../support/dpop";
import { acknowledged, closedWithin, openLive, refusedWith, wsUrl, type LiveClient } from "../support/live";
import { startRedis, type TestRedis } from "../support/redis";

let redis: TestRedis;
let api: TestApi;
let other: TestApi;

beforeAll(async () => {
  redis = await startRedis();
  [api, other] = await Promise.all([startApi(redis.url), startApi(redis.url)]);
});
afterAll(async () => {
  await Promise.all([api.stop(), other.stop()]);
  await redis.destroy();
});

const boundSignIn = (key: DpopKey) => signInBound(api.url, key);

const me = (url: string, headers: Record<string, string>) => send(url, MeDocument, {}, { headers });

function expectDpopRefusal(result: GraphQLResponse<unknown>, reason: string, check?: string) {
  expect(result.status).toBe(401);
  expect(result.error).toMatchObject({ code: "UNAUTHENTICATED", reason });
  if (check !== undefined) expect(result.errors?.[0]?.extensions).toMatchObject({ check });
  expect(result.headers.get("www-authenticate")).toBe('DPoP error="invalid_dpop_proof", algs="ES256 RS256 EdDSA"');
}

const { decodeJwt, exportJWK } = jose;

describe("signing in with a DPoP proof", () => {
  it("binds the tokens to the proof's key: cnf.jkt in both, tokenType DPoP", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(key);
    expect(auth.tokenType).toBe("DPoP");
    expect(decodeJwt(auth.accessToken).cnf).toEqual({ jkt: key.jkt });
    expect(decodeJwt(auth.refreshToken!).cnf).toEqual({ jkt: key.jkt });
  });

  it("still gives bearer tokens to a client that sends no proof (DPOP=optional)", async () => {
    const auth = await register(api.url);
    expect(auth.tokenType).toBe("Bearer");
    expect(decodeJwt(auth.accessToken).cnf).toBeUndefined();
  });

  it.each(["ES256", "RS256", "EdDSA"] as const)("accepts a %s key", async (alg) => {
    const key = await dpopKey(alg);
    const auth = await boundSignIn(key);
    const result = await me(api.url, dpopHeaders(auth.accessToken, await proof(key, { htu: api.url, accessToken: auth.accessToken })));
    expect(result.data?.me.id).toBe(auth.user.id);
  });

  it("refuses a sign-in whose proof is bad, with the failing check", async () => {
    const email = uniqueEmail("dpop");
    await register(api.url, { email });
    const key = await dpopKey();
    const result = await send(api.url, LoginDocument, { input: { email, password: PASSWORD } }, { headers: { dpop: await proof(key, { htu: "https://elsewhere.example/graphql" }) } });
    expectDpopRefusal(result, "INVALID_DPOP_PROOF", "htu");
  });
});

describe("a DPoP-bound access token", () => {
  let key: DpopKey;
  let auth: Awaited<ReturnType<typeof boundSignIn>>;
  beforeAll(async () => {
    key = await dpopKey();
    auth = await boundSignIn(key);
  });
  const fresh = (claims: Partial<Parameters<typeof proof>[1]> = {}, by: DpopKey = key) => proof(by, { htu: api.url, accessToken: auth.accessToken, ...claims });

  it("works with a fresh proof from its key on every request", async () => {
    for (let i = 0; i < 3; i++) expect((await me(api.url, dpopHeaders(auth.accessToken, await fresh()))).data?.me.id).toBe(auth.user.id);
  });

  it("is refused without a proof", async () => {
    expectDpopRefusal(await me(api.url, { authorization: `DPoP ${auth.accessToken}` }), "DPOP_PROOF_REQUIRED");
  });

  it("is refused as a bearer token: no downgrade", async () => {
    expectDpopRefusal(await me(api.url, { authorization: `Bearer ${auth.accessToken}` }), "DPOP_PROOF_REQUIRED");
    expectDpopRefusal(await me(api.url, { authorization: `Bearer ${auth.accessToken}`, dpop: await fresh() }), "DPOP_PROOF_REQUIRED");
  });

  it("is refused with a proof from another key", async () => {
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await fresh({}, await dpopKey()))), "INVALID_DPOP_PROOF", "jkt");
  });

  it("is refused with a proof for another URL or another method", async () => {
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await fresh({ htu: `${api.url}/other` }))), "INVALID_DPOP_PROOF", "htu");
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await fresh({ htu: api.url.replace("localhost", "127.0.0.1") }))), "INVALID_DPOP_PROOF", "htu");
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await fresh({ htm: "GET" }))), "INVALID_DPOP_PROOF", "htm");
  });

  it("ignores the query of htu, as RFC 9449 says", async () => {
    expect((await me(api.url, dpopHeaders(auth.accessToken, await fresh({ htu: `${api.url}?ignored=1#too` })))).data?.me.id).toBe(auth.user.id);
  });

  it("is refused with a stale or a future iat (DPOP_MAX_SKEW_SECONDS)", async () => {
    const now = Math.floor(Date.now() / 1000);
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await fresh({ iat: now - 120 }))), "INVALID_DPOP_PROOF", "iat");
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await fresh({ iat: now + 120 }))), "INVALID_DPOP_PROOF", "iat");
  });

  it("is refused with a proof made for another access token (ath)", async () => {
    const stranger = await boundSignIn(key);
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await proof(key, { htu: api.url, accessToken: stranger.accessToken }))), "INVALID_DPOP_PROOF", "ath");
  });

  it("refuses a replayed proof, on the same instance and on another one", async () => {
    const once = await fresh();
    expect((await me(api.url, dpopHeaders(auth.accessToken, once))).data?.me.id).toBe(auth.user.id);
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, once)), "DPOP_PROOF_REPLAYED");
    // The other instance shares the Redis replay keys; its URL differs only by port, so the proof names it.
    const forOther = await proof(key, { htu: other.url, accessToken: auth.accessToken });
    expect((await me(other.url, dpopHeaders(auth.accessToken, forOther))).data?.me.id).toBe(auth.user.id);
    const replayedJti = await proof(key, { htu: api.url, accessToken: auth.accessToken, jti: decodeJwt(forOther).jti as string });
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, replayedJti)), "DPOP_PROOF_REPLAYED");
  });

  it("refuses a proof with a private key in its header", async () => {
    const privateJwk = await exportJWK(key.privateKey);
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await fresh({ jwk: privateJwk }))), "INVALID_DPOP_PROOF", "jwk");
  });

  it("refuses alg none and HS256 proofs, and a proof of another typ", async () => {
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await unsignedProof(api.url))), "INVALID_DPOP_PROOF", "alg");
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await hmacProof(api.url))), "INVALID_DPOP_PROOF", "alg");
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, await fresh({ typ: "JWT" }))), "INVALID_DPOP_PROOF", "typ");
  });

  it("refuses a proof whose signature does not verify", async () => {
    const good = await fresh();
    const tampered = `${good.slice(0, good.lastIndexOf(".") + 1)}${"A".repeat(86)}`;
    expectDpopRefusal(await me(api.url, dpopHeaders(auth.accessToken, tampered)), "INVALID_DPOP_PROOF", "signature");
  });
});

describe("refreshing a DPoP-bound session", () => {
  const refresh = async (refreshToken: string, headers: Record<string, string> = {}) => send(api.url, RefreshDocument, { refreshToken }, { headers });

  it("refuses the refresh token without a proof, and leaves the session alive", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(key);
    expectDpopRefusal(await refresh(auth.refreshToken!), "INVALID_DPOP_PROOF", "missing");
    expectDpopRefusal(await refresh(auth.refreshToken!, { dpop: await proof(await dpopKey(), { htu: api.url }) }), "INVALID_DPOP_PROOF", "jkt");
    // Neither rotated the token: its holder still refreshes with it.
    const rotated = await refresh(auth.refreshToken!, { dpop: await proof(key, { htu: api.url }) });
    expect(rotated.data?.refresh.tokenType).toBe("DPoP");
    expect(decodeJwt(rotated.data!.refresh.accessToken).cnf).toEqual({ jkt: key.jkt });
    const next = rotated.data!.refresh;
    expect((await me(api.url, dpopHeaders(next.accessToken, await proof(key, { htu: api.url, accessToken: next.accessToken })))).data?.me.id).toBe(auth.user.id);
  });

  it("refuses a copied refresh token with a proof already seen, on any instance, and the session lives on", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(key);
    // A proof copied from a request the owner made with the access token: the per-request read recorded it.
    const seenWithAccess = await proof(key, { htu: api.url, accessToken: auth.accessToken });
    expect((await me(api.url, dpopHeaders(auth.accessToken, seenWithAccess))).data?.me.id).toBe(auth.user.id);
    expectDpopRefusal(await refresh(auth.refreshToken!, { dpop: seenWithAccess }), "DPOP_PROOF_REPLAYED");
    // A proof copied from the owner's own refresh (at the other instance): that refresh recorded it.
    const refreshProof = await proof(key, { htu: other.url });
    const rotated = await send(other.url, RefreshDocument, { refreshToken: auth.refreshToken! }, { headers: { dpop: refreshProof } });
    expect(rotated.data?.refresh.tokenType).toBe("DPoP");
    const copied = rotated.data!.refresh.refreshToken!;
    expectDpopRefusal(await send(other.url, RefreshDocument, { refreshToken: copied }, { headers: { dpop: refreshProof } }), "DPOP_PROOF_REPLAYED");
    // The instances share the replay keys; their URLs differ by port, so the same jti is signed for this one.
    const sameJti = await proof(key, { htu: api.url, jti: decodeJwt(refreshProof).jti as string });
    expectDpopRefusal(await refresh(copied, { dpop: sameJti }), "DPOP_PROOF_REPLAYED");
    // Neither rotated the session nor counted as reuse: its owner still refreshes, with a fresh proof.
    const owner = await refresh(copied, { dpop: await proof(key, { htu: api.url }) });
    expect(owner.data?.refresh.user.id).toBe(auth.user.id);
  });
});

describe("DPoP over WebSocket", () => {
  const socketHtu = () => wsUrl(api.url);

  it("accepts connection_init with a bound token and a proof for the socket's URL, and runs its operations", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(key);
    const dpop = await proof(key, { htm: "GET", htu: socketHtu(), accessToken: auth.accessToken });
    const ws = new WebSocket(wsUrl(api.url), "graphql-transport-ws");
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    type Frame = { type: string; payload?: { data?: { me?: { id: string } } } };
    const frames: Frame[] = [];
    let arrived = () => undefined as void;
    ws.on("message", (data) => {
      frames.push(JSON.parse(String(data)) as Frame);
      arrived();
    });
    const next = async (): Promise<Frame> => {
      while (frames.length === 0) await new Promise<void>((resolve) => (arrived = resolve));
      return frames.shift()!;
    };
    ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `DPoP ${auth.accessToken}`, dpop } }));
    expect((await next()).type).toBe("connection_ack");
    for (const id of ["1", "2"]) {
      ws.send(JSON.stringify({ id, type: "subscribe", payload: { query: "{ me { id } }" } }));
      expect((await next()).payload?.data?.me?.id).toBe(auth.user.id);
      await next(); // complete
    }
    ws.close();
  });

  it("refuses a socket whose proof is for another URL, or that has none", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(key);
    const forHttp = await proof(key, { htm: "GET", htu: api.url, accessToken: auth.accessToken });
    expect(await refusedWith(api.url, { authorization: `DPoP ${auth.accessToken}`, dpop: forHttp })).toEqual({ code: 4403, reason: "INVALID_DPOP_PROOF" });
    expect(await refusedWith(api.url, { authorization: `DPoP ${auth.accessToken}` })).toEqual({ code: 4403, reason: "DPOP_PROOF_REQUIRED" });
    expect(await refusedWith(api.url, { authorization: `Bearer ${auth.accessToken}` })).toEqual({ code: 4403, reason: "DPOP_PROOF_REQUIRED" });
  });

  it("refuses a replayed connection_init proof", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(key);
    const params = { authorization: `DPoP ${auth.accessToken}`, dpop: await proof(key, { htm: "GET", htu: socketHtu(), accessToken: auth.accessToken }) };
    expect(await acknowledged(api.url, params)).toBe(true);
    expect(await refusedWith(api.url, params)).toEqual({ code: 4403, reason: "DPOP_PROOF_REPLAYED" });
  });
});

describe("htu behind PUBLIC_URL", () => {
  const PUBLIC = "https://auth.example.com";

  it("is PUBLIC_URL's origin, not the Host header: a proof made for another host is refused, over HTTP and WebSocket", async () => {
    const behindProxy = await startApi(redis.url, { PUBLIC_URL: PUBLIC });
    try {
      const key = await dpopKey();
      const email = uniqueEmail("dpop");
      await register(behindProxy.url, { email });
      const login = async (htu: string) => send(behindProxy.url, LoginDocument, { input: { email, password: PASSWORD } }, { headers: { dpop: await proof(key, { htu }) } });
      // The request reaches 127.0.0.1:<port>, its Host: a proof for that host is one for another than this API's.
      expectDpopRefusal(await login(behindProxy.url), "INVALID_DPOP_PROOF", "htu");
      const auth = (await login(`${PUBLIC}/graphql`)).data!.login;
      expect(auth.tokenType).toBe("DPoP");
      const forHost = await proof(key, { htu: behindProxy.url, accessToken: auth.accessToken });
      expectDpopRefusal(await me(behindProxy.url, dpopHeaders(auth.accessToken, forHost)), "INVALID_DPOP_PROOF", "htu");
      const forPublic = await proof(key, { htu: `${PUBLIC}/graphql?ignored=1`, accessToken: auth.accessToken });
      expect((await me(behindProxy.url, dpopHeaders(auth.accessToken, forPublic))).data?.me.id).toBe(auth.user.id);

      const socketProof = (htu: string) => proof(key, { htm: "GET", htu, accessToken: auth.accessToken });
      const params = async (htu: string) => ({ authorization: `DPoP ${auth.accessToken}`, dpop: await socketProof(htu) });
      expect(await refusedWith(behindProxy.url, await params(wsUrl(behindProxy.url)))).toEqual({ code: 4403, reason: "INVALID_DPOP_PROOF" });
      expect(await acknowledged(behindProxy.url, await params("wss://auth.example.com/graphql"))).toBe(true);
    } finally {
      await behindProxy.stop();
    }
  });
});

describe("DPOP=required and DPOP_REQUIRED_FOR_ROLES", () => {
  it("refuses a sign-in without a proof under DPOP=required, and binds one with a proof", async () => {
    const strict = await startApi(redis.url, { DPOP: "required" });
    try {
      const email = uniqueEmail("dpop");
      await register(api.url, { email });
      expectDpopRefusal(await send(strict.url, LoginDocument, { input: { email, password: PASSWORD } }), "DPOP_PROOF_REQUIRED");
      const key = await dpopKey();
      const bound = await send(strict.url, LoginDocument, { input: { email, password: PASSWORD } }, { headers: { dpop: await proof(key, { htu: strict.url }) } });
      expect(bound.data?.login.tokenType).toBe("DPoP");
    } finally {
      await strict.stop();
    }
  });

  it("refuses an ADMIN's sign-in without a proof when ADMIN is in DPOP_REQUIRED_FOR_ROLES, and not a USER's", async () => {
    const adminEmail = uniqueEmail("dpop-admin");
    const strict = await startApi(redis.url, { DPOP_REQUIRED_FOR_ROLES: "ADMIN", ADMIN_EMAIL: adminEmail, ADMIN_PASSWORD: PASSWORD });
    try {
      expectDpopRefusal(await send(strict.url, LoginDocument, { input: { email: adminEmail, password: PASSWORD } }), "DPOP_PROOF_REQUIRED");
      const user = await register(strict.url);
      expect(user.tokenType).toBe("Bearer");
      const key = await dpopKey();
      const admin = await send(strict.url, LoginDocument, { input: { email: adminEmail, password: PASSWORD } }, { headers: { dpop: await proof(key, { htu: strict.url }) } });
      expect(admin.data?.login.tokenType).toBe("DPoP");
    } finally {
      await strict.stop();
    }
  });

  it("ends a user's unbound sessions when a promotion puts them in DPOP_REQUIRED_FOR_ROLES; their sockets close, the bound session goes on", async () => {
    const adminEmail = uniqueEmail("dpop-admin");
    const strict = await startApi(redis.url, { DPOP_REQUIRED_FOR_ROLES: "ADMIN", ADMIN_EMAIL: adminEmail, ADMIN_PASSWORD: PASSWORD });
    let live: LiveClient | undefined;
    try {
      const adminKey = await dpopKey();
      const admin = (await send(strict.url, LoginDocument, { input: { email: adminEmail, password: PASSWORD } }, { headers: { dpop: await proof(adminKey, { htu: strict.url }) } })).data!.login;
      const email = uniqueEmail("dpop");
      const bearer = await register(strict.url, { email });
      const key = await dpopKey();
      const bound = (await send(strict.url, LoginDocument, { input: { email, password: PASSWORD } }, { headers: { dpop: await proof(key, { htu: strict.url }) } })).data!.login;
      live = await openLive(strict.url, bearer.accessToken, { subscribe: false });

      const promoted = await send(strict.url, SetUserRolesDocument, { userId: bearer.user.id, roles: ["USER", "ADMIN"] }, { headers: dpopHeaders(admin.accessToken, await proof(adminKey, { htu: strict.url, accessToken: admin.accessToken })) });
      expect(promoted.data?.setUserRoles.roles).toEqual(["USER", "ADMIN"]);

      expect(await closedWithin(live, 5000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
      expect((await send(strict.url, MeDocument, {}, { token: bearer.accessToken })).error).toMatchObject({ reason: "TOKEN_REVOKED" });
      expect((await send(strict.url, RefreshDocument, { refreshToken: bearer.refreshToken! })).error).toMatchObject({ reason: "TOKEN_REVOKED" });
      const asBound = await me(strict.url, dpopHeaders(bound.accessToken, await proof(key, { htu: strict.url, accessToken: bound.accessToken })));
      expect(asBound.data?.me).toMatchObject({ id: bearer.user.id, roles: ["USER", "ADMIN"] });
    } finally {
      await live?.dispose();
      await strict.stop();
    }
  });

  it("refuses an unbound session the promotion did not end (begun meanwhile, or pending): its token on the next request, and it ends at its refresh", async () => {
    const strict = await startApi(redis.url, { DPOP_REQUIRED_FOR_ROLES: "ADMIN" });
    try {
      const bearer = await register(strict.url);
      // Promoted in the store alone, as if the session had begun after the promotion listed the user's sessions.
      await strict.store.setUserRoles(bearer.user.id, ["USER", "ADMIN"]);
      expect((await send(strict.url, MeDocument, {}, { token: bearer.accessToken })).error).toMatchObject({ reason: "DPOP_PROOF_REQUIRED" });
      expect((await send(strict.url, RefreshDocument, { refreshToken: bearer.refreshToken! })).error).toMatchObject({ reason: "DPOP_PROOF_REQUIRED" });
      expect((await send(strict.url, RefreshDocument, { refreshToken: bearer.refreshToken! })).error).toMatchObject({ reason: "TOKEN_REVOKED" });
    } finally {
      await strict.stop();
    }
  });

  it("ignores proofs under DPOP=off", async () => {
    const off = await startApi(redis.url, { DPOP: "off" });
    try {
      const email = uniqueEmail("dpop");
      await register(off.url, { email });
      const key = await dpopKey();
      const result = await send(off.url, LoginDocument, { input: { email, password: PASSWORD } }, { headers: { dpop: await proof(key, { htu: off.url }) } });
      expect(result.data?.login.tokenType).toBe("Bearer");
    } finally {
      await off.stop();
    }
  });
});

describe("server nonces (DPOP_NONCE=on)", () => {
  it("answers a proof without the nonce with use_dpop_nonce and a DPoP-Nonce, and accepts it signed again with that nonce, on every instance", async () => {
    const env = { DPOP_NONCE: "on", MFA_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64") };
    const [first, second] = await Promise.all([startApi(redis.url, env), startApi(redis.url, env)]);
    try {
      const email = uniqueEmail("dpop");
      await register(first.url, { email });
      const key = await dpopKey();
      const login = (url: string, nonce?: string) =>
        proof(key, { htu: url, ...(nonce === undefined ? {} : { nonce }) }).then((dpop) => send(url, LoginDocument, { input: { email, password: PASSWORD } }, { headers: { dpop } }));
      const refused = await login(first.url);
      expect(refused.status).toBe(401);
      expect(refused.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_DPOP_PROOF" });
      expect(refused.errors?.[0]?.extensions).toMatchObject({ check: "nonce" });
      expect(refused.headers.get("www-authenticate")).toBe('DPoP error="use_dpop_nonce", algs="ES256 RS256 EdDSA"');
      const nonce = refused.headers.get("dpop-nonce")!;
      expect(nonce).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect((await login(first.url, "a made-up nonce")).headers.get("dpop-nonce")).toBe(nonce);
      const bound = await login(second.url, nonce);
      expect(bound.data?.login.tokenType).toBe("DPoP");
      const token = bound.data!.login.accessToken;
      const withoutNonce = await me(first.url, dpopHeaders(token, await proof(key, { htu: first.url, accessToken: token })));
      expect(withoutNonce.status).toBe(401);
      expect(withoutNonce.errors?.[0]?.extensions).toMatchObject({ reason: "INVALID_DPOP_PROOF", check: "nonce" });
      expect(withoutNonce.headers.get("www-authenticate")).toMatch(/^DPoP error="use_dpop_nonce"/);
      expect(withoutNonce.headers.get("dpop-nonce")).toBe(nonce);
      expect((await me(first.url, dpopHeaders(token, await proof(key, { htu: first.url, accessToken: token, nonce })))).data?.me.id).toBe(bound.data!.login.user.id);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });
});

it("answers a malformed DPoP header on an anonymous request with INVALID_DPOP_PROOF", async () => {
  expectDpopRefusal(await post(api.url, { query: "{ __typename }" }, { headers: { dpop: "not a jwt" } }), "INVALID_DPOP_PROOF", "malformed");
});
