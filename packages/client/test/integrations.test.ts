import { createHash } from "node:crypto";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { Client, cacheExchange, fetchExchange } from "@urql/core";
import { authExchange } from "@urql/exchange-auth";
import { createAuthClient, type AuthClient } from "../src/index.js";
import { authLink } from "../src/apollo.js";
import { urqlAuth } from "../src/urql.js";
import { graphqlWsOptions } from "../src/graphql-ws.js";
import { LoginDocument, LogoutAllDocument } from "../../../schema/generated/graphql.js";
import { startApi, type TestApi } from "../../../test/support/api.js";
import { PASSWORD, register, send } from "../../../test/support/client.js";

// The integrations with the real urql and Apollo Client packages against a real API, in Node.
let api: TestApi;
/** Access tokens of one second, for the API itself to answer TOKEN_EXPIRED. */
let shortLived: TestApi;
/** Every proof must carry the server's nonce (DPOP_NONCE=on). */
let withNonce: TestApi;
beforeAll(async () => {
  api = await startApi(null, { REFRESH_REUSE_GRACE_SECONDS: "0" });
  shortLived = await startApi(null, { REFRESH_REUSE_GRACE_SECONDS: "0", ACCESS_TOKEN_TTL: "1" });
  withNonce = await startApi(null, { DPOP_NONCE: "on" });
});
afterAll(async () => {
  await api.stop();
  await shortLived.stop();
  await withNonce.stop();
});

const clients: AuthClient[] = [];
afterEach(() => clients.splice(0).forEach((client) => client.close()));

/**
 * A signed-in AuthClient whose clock the test moves, and the operations it and the framework sent.
 * Bearer tokens unless `dpop` (the client's default): the API offers DPoP, and the suites below say
 * which kind of session they drive.
 */
async function signedIn(url = api.url, { dpop = false } = {}) {
  const { email } = (await register(url)).user;
  let offset = 0;
  const sent: string[] = [];
  /** The Authorization scheme and whether a DPoP proof came along, of each request the frameworks sent. */
  const schemes: string[] = [];
  const counting = async (url: string | URL | Request, init?: RequestInit) => {
    const query = typeof init?.body === "string" ? ((JSON.parse(init.body) as { query?: string }).query ?? "") : (new URL(String(url)).searchParams.get("query") ?? "");
    sent.push(/\{\s*(\w+)/.exec(query)?.[1] ?? "?");
    const headers = new Headers(init?.headers);
    schemes.push(`${headers.get("authorization")?.split(" ")[0] ?? "none"}${headers.has("dpop") ? "+proof" : ""}`);
    return fetch(url, init);
  };
  const auth = createAuthClient({ url, BroadcastChannel: null, WebSocket: null, fetch: counting, now: () => Date.now() + offset, dpop });
  clients.push(auth);
  await auth.signIn({ email, password: PASSWORD });
  const expire = () => (offset += 16 * 60_000);
  const rewind = (ms: number) => (offset -= ms);
  const endEverySession = async () => {
    const other = await send(api.url, LoginDocument, { input: { email, password: PASSWORD } });
    await send(api.url, LogoutAllDocument, {}, { token: other.data!.login.accessToken });
  };
  return { auth, email, sent, schemes, counting, expire, rewind, endEverySession };
}

const ME = "query Me { me { email } }";

describe("the urql authExchange config", () => {
  it("sends the bearer token, refreshes a stale one first, and signs out on TOKEN_REVOKED without a retry", async () => {
    const { auth, email, sent, counting, expire, endEverySession } = await signedIn();
    const urql = new Client({ url: api.url, fetch: counting as typeof fetch, exchanges: [cacheExchange, authExchange(urqlAuth(auth)), fetchExchange], requestPolicy: "network-only" });
    expect((await urql.query(ME, {}).toPromise()).data).toEqual({ me: { __typename: "User", email } });

    expire();
    expect((await urql.query(ME, {}).toPromise()).data).toEqual({ me: { __typename: "User", email } });
    expect(sent).toEqual(["login", "me", "refresh", "me"]);

    await endEverySession();
    const refused = await urql.query(ME, {}).toPromise();
    expect(refused.error?.graphQLErrors[0]?.extensions.reason).toBe("TOKEN_REVOKED");
    await new Promise((r) => setImmediate(r));
    expect(auth.state).toMatchObject({ status: "signedOut", reason: "TOKEN_REVOKED" });
    expect(sent).toEqual(["login", "me", "refresh", "me", "me"]);
  });
});

describe("the urql authExchange config, when the API answers TOKEN_EXPIRED", () => {
  it("refreshes once and retries", async () => {
    const { email, sent, counting, rewind } = await signedIn(shortLived.url);
    const urql = new Client({ url: shortLived.url, fetch: counting as typeof fetch, exchanges: [cacheExchange, authExchange(urqlAuth(clients[0]!)), fetchExchange], requestPolicy: "network-only" });
    rewind(10_000);
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await urql.query(ME, {}).toPromise()).data).toEqual({ me: { __typename: "User", email } });
    expect(sent).toEqual(["login", "me", "refresh", "me"]);
  });
});

describe("the Apollo Client link", () => {
  it("sends the bearer token, refreshes a stale one first, and signs out on TOKEN_REVOKED without a retry", async () => {
    const { auth, email, sent, counting, expire, endEverySession } = await signedIn();
    const apollo = new ApolloClient({ link: authLink(auth).concat(new HttpLink({ uri: api.url, fetch: counting as typeof fetch })), cache: new InMemoryCache() });
    const me = () => apollo.query<{ me: { email: string } }>({ query: gql(ME), fetchPolicy: "network-only", errorPolicy: "all" });
    expect((await me()).data).toEqual({ me: { __typename: "User", email } });

    expire();
    expect((await me()).data).toEqual({ me: { __typename: "User", email } });
    expect(sent).toEqual(["login", "me", "refresh", "me"]);

    await endEverySession();
    expect(((await me()).error as { errors?: { extensions?: { reason?: string } }[] }).errors?.[0]?.extensions?.reason).toBe("TOKEN_REVOKED");
    expect(auth.state).toMatchObject({ status: "signedOut", reason: "TOKEN_REVOKED" });
    expect(sent).toEqual(["login", "me", "refresh", "me", "me"]);
  });

  it("retries once with a refreshed token after the API answers TOKEN_EXPIRED", async () => {
    const { email, sent, counting, rewind } = await signedIn(shortLived.url);
    const apollo = new ApolloClient({ link: authLink(clients[0]!).concat(new HttpLink({ uri: shortLived.url, fetch: counting as typeof fetch })), cache: new InMemoryCache() });
    // The API calls the token expired while the client's clock, behind, does not.
    rewind(10_000);
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await apollo.query<{ me: { email: string } }>({ query: gql(ME), fetchPolicy: "network-only" })).data).toEqual({ me: { __typename: "User", email } });
    expect(sent).toEqual(["login", "me", "refresh", "me"]);
  });
});

describe("the graphql-ws options", () => {
  it("send a fresh token as connection_init's authorization, and stop and sign out after 4401", async () => {
    const { auth, expire } = await signedIn();
    const options = graphqlWsOptions(auth);
    const first = await options.connectionParams();
    expect(first).toEqual({ authorization: `Bearer ${await auth.getAccessToken()}` });
    expire();
    expect(options.shouldRetry({ code: 4403, reason: "TOKEN_EXPIRED" })).toBe(true);
    const second = await options.connectionParams();
    expect(second.authorization).not.toBe(first.authorization);
    expect(options.shouldRetry({ code: 4401, reason: "TOKEN_REVOKED" })).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(auth.state).toMatchObject({ status: "signedOut", reason: "TOKEN_REVOKED" });
    expect(await options.connectionParams()).toEqual({});
  });
});

describe("with a DPoP-bound session (the default where the API offers DPoP)", () => {
  it("urql sends DPoP and a fresh proof per request through auth.dpopFetch, and refreshes with a proof", async () => {
    const { auth, email, sent, schemes, counting, expire } = await signedIn(api.url, { dpop: true });
    expect(auth.state).toMatchObject({ status: "signedIn", session: { tokenType: "DPoP" } });
    const urql = new Client({ url: api.url, fetch: auth.dpopFetch(counting as typeof fetch), exchanges: [cacheExchange, authExchange(urqlAuth(auth)), fetchExchange], requestPolicy: "network-only" });
    expect((await urql.query(ME, {}).toPromise()).data).toEqual({ me: { __typename: "User", email } });
    expire();
    expect((await urql.query(ME, {}).toPromise()).data).toEqual({ me: { __typename: "User", email } });
    expect(sent).toEqual(["login", "me", "refresh", "me"]);
    expect(schemes).toEqual(["none+proof", "DPoP+proof", "none+proof", "DPoP+proof"]);
  });

  it("urql without auth.dpopFetch sends the bound token without a proof, and the API refuses it (DPOP_PROOF_REQUIRED), signing nobody out", async () => {
    const { auth, counting } = await signedIn(api.url, { dpop: true });
    const urql = new Client({ url: api.url, fetch: counting as typeof fetch, exchanges: [cacheExchange, authExchange(urqlAuth(auth)), fetchExchange], requestPolicy: "network-only" });
    const refused = await urql.query(ME, {}).toPromise();
    expect(refused.error?.graphQLErrors[0]?.extensions.reason).toBe("DPOP_PROOF_REQUIRED");
    expect(auth.state.status).toBe("signedIn");
  });

  it("the Apollo link signs a proof for each operation", async () => {
    const { auth, email, sent, schemes, counting, expire } = await signedIn(api.url, { dpop: true });
    const apollo = new ApolloClient({ link: authLink(auth).concat(new HttpLink({ uri: api.url, fetch: counting as typeof fetch })), cache: new InMemoryCache() });
    const me = () => apollo.query<{ me: { email: string } }>({ query: gql(ME), fetchPolicy: "network-only" });
    expect((await me()).data).toEqual({ me: { __typename: "User", email } });
    expire();
    expect((await me()).data).toEqual({ me: { __typename: "User", email } });
    expect(sent).toEqual(["login", "me", "refresh", "me"]);
    expect(schemes).toEqual(["none+proof", "DPoP+proof", "none+proof", "DPoP+proof"]);
  });

  it("graphql-ws's connection_init carries the DPoP token and a proof for GET on the socket's URL", async () => {
    const { auth } = await signedIn(api.url, { dpop: true });
    const socketUrl = api.url.replace(/^http/, "ws");
    const params = await graphqlWsOptions(auth, { url: socketUrl }).connectionParams();
    const token = await auth.getAccessToken();
    expect(params.authorization).toBe(`DPoP ${token}`);
    const claims = JSON.parse(Buffer.from(params.dpop!.split(".")[1]!, "base64url").toString()) as { htm: string; htu: string; ath: string };
    expect(claims).toMatchObject({ htm: "GET", htu: socketUrl });
    expect(claims.ath).toBe(createHash("sha256").update(token!).digest("base64url"));
  });

  it("graphql-ws: a 4403 MFA_REQUIRED close is a state, not a reconnect loop nor a sign-out", async () => {
    const { auth } = await signedIn(api.url, { dpop: true });
    const options = graphqlWsOptions(auth);
    expect(options.shouldRetry({ code: 4403, reason: "MFA_REQUIRED" })).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(auth.state.status).toBe("mfaRequired");
  });
});

describe("with server nonces (DPOP_NONCE=on), once the client's nonce is stale", () => {
  /** A nonce from a past window, as the client holds one after 5 to 10 minutes. */
  const stale = (auth: AuthClient) => auth.dpopChallenge(undefined, { status: 200, headers: new Headers({ "dpop-nonce": "a-nonce-of-a-past-window" }) });

  it("the Apollo link signs again once with the API's new nonce (use_dpop_nonce)", async () => {
    const { auth, email, sent, counting } = await signedIn(withNonce.url, { dpop: true });
    stale(auth);
    const apollo = new ApolloClient({ link: authLink(auth).concat(new HttpLink({ uri: withNonce.url, fetch: counting as typeof fetch })), cache: new InMemoryCache() });
    const me = () => apollo.query<{ me: { email: string } }>({ query: gql(ME), fetchPolicy: "network-only" });
    expect((await me()).data).toEqual({ me: { __typename: "User", email } });
    expect((await me()).data).toEqual({ me: { __typename: "User", email } });
    expect(sent).toEqual(["login", "login", "me", "me", "me"]);
    expect(auth.state.status).toBe("signedIn");
  });

  it("graphql-ws fetches a fresh nonce after the socket's 4403 INVALID_DPOP_PROOF, and connects", async () => {
    const { auth } = await signedIn(withNonce.url, { dpop: true });
    stale(auth);
    const socketUrl = withNonce.url.replace(/^http/, "ws");
    const options = graphqlWsOptions(auth, { url: socketUrl });
    const closes: string[] = [];
    let connected = false;
    const ws = createClient({
      url: socketUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 3,
      retryWait: () => new Promise((r) => setTimeout(r, 50)),
      onNonLazyError: () => undefined,
      ...options,
      on: { closed: (event) => (closes.push(`${(event as { code: number }).code} ${(event as { reason: string }).reason}`), options.on.closed(event)), connected: () => void (connected = true) },
    });
    try {
      const deadline = Date.now() + 5_000;
      while (!connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(closes).toEqual(["4403 INVALID_DPOP_PROOF"]);
      expect(connected).toBe(true);
      expect(auth.state.status).toBe("signedIn");
    } finally {
      await ws.dispose();
    }
  });
});
