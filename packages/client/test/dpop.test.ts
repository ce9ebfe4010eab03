import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPair, type KeyPair } from "dpop";
import { createAuthClient, type AuthClient, type AuthEventDetail, type FetchLike } from "../src/index.js";
import { startApi, type TestApi } from "../../../test/support/api.js";
import { PASSWORD, post, register } from "../../../test/support/client.js";

// DPoP through the client in Node (the key in memory), against the real API.
let api: TestApi;
let withNonce: TestApi;
let dpopOff: TestApi;
beforeAll(async () => {
  api = await startApi(null);
  withNonce = await startApi(null, { DPOP_NONCE: "on" });
  dpopOff = await startApi(null, { DPOP: "off" });
});
afterAll(async () => {
  await api.stop();
  await withNonce.stop();
  await dpopOff.stop();
});

const clients: AuthClient[] = [];
afterEach(() => clients.splice(0).forEach((client) => client.close()));

let group = 0;
/** Records each request as `<operation> <scheme>[+proof] <status>`. */
function recorder() {
  const sent: string[] = [];
  const recording: FetchLike = async (target, init) => {
    const operation = /\{\s*(\w+)/.exec((JSON.parse(init.body ?? "{}") as { query?: string }).query ?? "")?.[1] ?? "?";
    const response = await fetch(target, init as RequestInit);
    sent.push(`${operation} ${init.headers.authorization?.split(" ")[0] ?? "none"}${init.headers.dpop ? "+proof" : ""} ${response.status}`);
    return response;
  };
  return { sent, recording };
}

/** Clients ("tabs") of one name, each request recorded as `<operation> <scheme>[+proof] <status>`. */
function tabs(url: string, count = 1) {
  const { sent, recording } = recorder();
  const name = `dpop-${process.pid}-${++group}`;
  const made = Array.from({ length: count }, () => createAuthClient({ url, name, WebSocket: null, locks: null, fetch: recording }));
  clients.push(...made);
  return { tabs: made, sent };
}

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;

describe("DPoP in the client", () => {
  it("binds the session where the API offers DPoP: tokenType DPoP, cnf.jkt, a proof with every request", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [auth], sent } = tabs(api.url);
    await auth!.signIn({ email, password: PASSWORD });
    expect(auth!.state).toMatchObject({ session: { tokenType: "DPoP" } });
    const token = (await auth!.getAccessToken())!;
    expect(claimsOf(token).cnf).toEqual({ jkt: expect.any(String) });
    expect(await auth!.request("{ me { email } }")).toEqual({ me: { email } });
    expect(sent).toEqual(["login none+proof 200", "me DPoP+proof 200"]);
  });

  it("a token copied out of the client is refused without the key: as Bearer (DPOP_PROOF_REQUIRED) and as DPoP without a proof", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [auth] } = tabs(api.url);
    await auth!.signIn({ email, password: PASSWORD });
    const token = (await auth!.getAccessToken())!;
    const asBearer = await post(api.url, { query: "{ me { email } }" }, { token });
    expect(asBearer.status).toBe(401);
    expect(asBearer.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "DPOP_PROOF_REQUIRED" });
    const asDpop = await post(api.url, { query: "{ me { email } }" }, { headers: { authorization: `DPoP ${token}` } });
    expect(asDpop.status).toBe(401);
    expect(asDpop.error?.reason).toMatch(/^(DPOP_PROOF_REQUIRED|INVALID_DPOP_PROOF)$/);
  });

  it("two clients of one name in one process sign with one key: the session one signed in is usable by the other", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [a, b] } = tabs(api.url, 2);
    await a!.signIn({ email, password: PASSWORD });
    for (let i = 0; i < 100 && !b!.currentAccessToken(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(await b!.request("{ me { email } }")).toEqual({ me: { email } });
  });

  it("with DPOP_NONCE=on, signs again once with the server's nonce (use_dpop_nonce), then uses it for later proofs", async () => {
    const { email } = (await register(withNonce.url)).user;
    const { tabs: [auth], sent } = tabs(withNonce.url);
    await auth!.signIn({ email, password: PASSWORD });
    expect(await auth!.request("{ me { email } }")).toEqual({ me: { email } });
    expect(sent).toEqual(["login none+proof 401", "login none+proof 200", "me DPoP+proof 200"]);
  });

  it("where the API has DPOP=off, the tokens are bearer tokens and no proof follows the sign-in", async () => {
    const { email } = (await register(dpopOff.url)).user;
    const { tabs: [auth], sent } = tabs(dpopOff.url);
    await auth!.signIn({ email, password: PASSWORD });
    expect(auth!.state).toMatchObject({ session: { tokenType: "Bearer" } });
    expect(await auth!.request("{ me { email } }")).toEqual({ me: { email } });
    expect(sent).toEqual(["login none+proof 200", "me Bearer 200"]);
  });

  it("dpop: false sends no proof, and gets bearer tokens where the API offers DPoP", async () => {
    const { email } = (await register(api.url)).user;
    const auth = createAuthClient({ url: api.url, WebSocket: null, BroadcastChannel: null, locks: null, dpop: false });
    clients.push(auth);
    await auth.signIn({ email, password: PASSWORD });
    expect(auth.state).toMatchObject({ session: { tokenType: "Bearer" } });
    expect(await auth.request("{ me { email } }")).toEqual({ me: { email } });
  });
});

/** An IndexedDB that refuses to open, as a browser's private mode or a blocked storage does. */
const refusingIndexedDb = {
  open: () => {
    throw new Error("SecurityError: IndexedDB refused");
  },
};

/** A key pair that can be made to fail to load, as IndexedDB does when its connection is lost. */
async function flakyKey() {
  const pair = await generateKeyPair("ES256");
  const key = { failing: false, calls: 0, load: async (): Promise<KeyPair> => (key.calls++, key.failing ? Promise.reject(new Error("UnknownError: Connection to Indexed Database server lost")) : pair) };
  return key;
}

describe("DPoP in the client, when the key does not load", () => {
  it('dpop: "required" refuses to sign in without the key: DPOP_KEY_UNAVAILABLE, no credentials sent, nothing signed in', async () => {
    const { email } = (await register(api.url)).user;
    const { sent, recording } = recorder();
    const auth = createAuthClient({ url: api.url, name: `dpop-required-${process.pid}`, WebSocket: null, BroadcastChannel: null, locks: null, fetch: recording, indexedDB: refusingIndexedDb, dpop: "required" });
    clients.push(auth);
    const events: string[] = [];
    auth.onAuthStateChange((event) => void events.push(event));
    await expect(auth.signIn({ email, password: PASSWORD })).rejects.toMatchObject({ name: "AuthClientError", code: "DPOP_KEY_UNAVAILABLE", reason: "DPOP_KEY_UNAVAILABLE" });
    expect(sent).toEqual([]);
    expect(auth.state.status).toBe("unknown");
    expect(events).toEqual([]);
  });

  it("by default signs in with bearer tokens, and says so: tokenType in the SIGNED_IN detail and the state", async () => {
    const { email } = (await register(api.url)).user;
    const { sent, recording } = recorder();
    const auth = createAuthClient({ url: api.url, name: `dpop-fallback-${process.pid}`, WebSocket: null, BroadcastChannel: null, locks: null, fetch: recording, indexedDB: refusingIndexedDb });
    clients.push(auth);
    const details: AuthEventDetail[] = [];
    auth.onAuthStateChange((_, detail) => void details.push(detail));
    await auth.signIn({ email, password: PASSWORD });
    expect(sent).toEqual(["login none 200"]);
    expect(details).toEqual([expect.objectContaining({ tokenType: "Bearer" })]);
    expect(auth.state).toMatchObject({ session: { tokenType: "Bearer" } });
  });

  it("SIGNED_IN's detail says DPoP for a bound session", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [auth] } = tabs(api.url);
    const details: AuthEventDetail[] = [];
    auth!.onAuthStateChange((_, detail) => void details.push(detail));
    await auth!.signIn({ email, password: PASSWORD });
    expect(details).toEqual([expect.objectContaining({ tokenType: "DPoP", sessionId: expect.any(String) })]);
  });

  it("a bound session whose key fails at refresh sends nothing, stays signed in with its refresh token, and refreshes once the key is back", async () => {
    const { email } = (await register(api.url)).user;
    const key = await flakyKey();
    const { sent, recording } = recorder();
    const store = { token: null as string | null, get: () => store.token, set: (token: string | null) => void (store.token = token) };
    let clock = Date.now();
    const auth = createAuthClient({ url: api.url, WebSocket: null, BroadcastChannel: null, locks: null, fetch: recording, refreshToken: store, now: () => clock, dpop: key.load });
    clients.push(auth);
    const events: string[] = [];
    auth.onAuthStateChange((event) => void events.push(event));
    await auth.signIn({ email, password: PASSWORD });
    expect(auth.state).toMatchObject({ session: { tokenType: "DPoP" } });
    const refreshToken = store.token;

    key.failing = true;
    clock += 3_600_000; // the access token is stale: getAccessToken refreshes
    await expect(auth.getAccessToken()).rejects.toMatchObject({ code: "DPOP_KEY_UNAVAILABLE" });
    expect(sent).toEqual(["login none+proof 200"]);
    expect(auth.state.status).toBe("signedIn");
    expect(store.token).toBe(refreshToken);

    key.failing = false;
    expect(await auth.getAccessToken()).toEqual(expect.any(String));
    expect(sent).toEqual(["login none+proof 200", "refresh none+proof 200"]);
    expect(events).toEqual(["SIGNED_IN", "TOKEN_REFRESHED"]);
  });

  it("a fresh client whose key fails keeps a bound session's refresh token: a refusal for the missing proof is not the session's end", async () => {
    const { email } = (await register(api.url)).user;
    const store = { token: null as string | null, get: () => store.token, set: (token: string | null) => void (store.token = token) };
    const key = await flakyKey();
    const first = createAuthClient({ url: api.url, WebSocket: null, BroadcastChannel: null, locks: null, refreshToken: store, dpop: key.load });
    clients.push(first);
    await first.signIn({ email, password: PASSWORD });
    const refreshToken = store.token;

    key.failing = true;
    const fresh = createAuthClient({ url: api.url, WebSocket: null, BroadcastChannel: null, locks: null, refreshToken: store, dpop: key.load });
    clients.push(fresh);
    await expect(fresh.getAccessToken()).rejects.toMatchObject({ code: "DPOP_KEY_UNAVAILABLE" });
    expect(fresh.state.status).toBe("unknown");
    expect(store.token).toBe(refreshToken);

    key.failing = false;
    expect(await fresh.getAccessToken()).toEqual(expect.any(String));
    expect(fresh.state).toMatchObject({ status: "signedIn", session: { tokenType: "DPoP" } });
  });
});

describe("server nonces are per origin", () => {
  let thirdParty: Server;
  let thirdPartyUrl: string;
  beforeAll(async () => {
    // Another API the app calls through dpopFetch, with nonces of its own.
    thirdParty = createServer((_, response) => response.writeHead(200, { "dpop-nonce": "third-party-nonce", "content-type": "application/json" }).end("{}"));
    await new Promise<void>((resolve) => thirdParty.listen(0, "127.0.0.1", resolve));
    thirdPartyUrl = `http://127.0.0.1:${(thirdParty.address() as AddressInfo).port}/api`;
  });
  afterAll(() => new Promise<void>((resolve) => thirdParty.close(() => resolve())));

  it("a third-party server's DPoP-Nonce is never sent to the API", async () => {
    const { email } = (await register(withNonce.url)).user;
    const { tabs: [auth], sent } = tabs(withNonce.url);
    await auth!.signIn({ email, password: PASSWORD });
    const token = (await auth!.getAccessToken())!;
    const proved = auth!.dpopFetch(fetch);
    let thirdPartyProof = "";
    await proved(thirdPartyUrl, { headers: { authorization: `DPoP ${token}` } });
    expect(await auth!.request("{ me { email } }")).toEqual({ me: { email } });
    expect(sent).toEqual(["login none+proof 401", "login none+proof 200", "me DPoP+proof 200"]);
    // The third party's own nonce still goes to the third party.
    const seen = async (input: string | URL | Request, init?: RequestInit) => ((thirdPartyProof = new Headers(init?.headers).get("dpop") ?? ""), fetch(input, init));
    await auth!.dpopFetch(seen)(thirdPartyUrl, { headers: { authorization: `DPoP ${token}` } });
    expect(claimsOf(thirdPartyProof).nonce).toBe("third-party-nonce");
  });
});
