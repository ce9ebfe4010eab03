import { createAuthClient, type AuthClient, type FetchLike } from "../src/index.js";
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
/** Clients ("tabs") of one name, each request recorded as `<operation> <scheme>[+proof] <status>`. */
function tabs(url: string, count = 1) {
  const sent: string[] = [];
  const recording: FetchLike = async (target, init) => {
    const operation = /\{\s*(\w+)/.exec((JSON.parse(init.body ?? "{}") as { query?: string }).query ?? "")?.[1] ?? "?";
    const response = await fetch(target, init as RequestInit);
    sent.push(`${operation} ${init.headers.authorization?.split(" ")[0] ?? "none"}${init.headers.dpop ? "+proof" : ""} ${response.status}`);
    return response;
  };
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
