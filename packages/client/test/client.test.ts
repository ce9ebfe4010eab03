import { createAuthClient, type AuthClient, type AuthClientOptions, type FetchLike, type RefreshTokenStore } from "../src/index.js";
import { startApi, type TestApi } from "../../../test/support/api.js";
import { PASSWORD, register, uniqueEmail } from "../../../test/support/client.js";

// Node drives the client as two "tabs": two clients with one name share Node's BroadcastChannel and,
// with no Web Locks here, the BroadcastChannel lease; they share the refresh token through one store.
let api: TestApi;
beforeAll(async () => {
  api = await startApi(null, { REFRESH_REUSE_GRACE_SECONDS: "0" });
});
afterAll(() => api.stop());

const clients: AuthClient[] = [];
afterEach(() => clients.splice(0).forEach((client) => client.close()));

/** A clock the test moves: the API's tokens stay valid while the clients think they expired. */
function clock() {
  let offset = 0;
  return { now: () => Date.now() + offset, pass: (ms: number) => (offset += ms) };
}

/** Every GraphQL operation the clients sent, by its first field (login, refresh, logout, me, ...). */
function countingFetch(sent: string[]): FetchLike {
  return async (url, init) => {
    const query = (JSON.parse(init.body ?? "{}") as { query?: string }).query ?? "";
    sent.push(/\{\s*(\w+)/.exec(query)?.[1] ?? "?");
    return fetch(url, init as RequestInit);
  };
}

let tabGroup = 0;
function tabs(count: number, options: Partial<AuthClientOptions> = {}) {
  const store: RefreshTokenStore & { token: string | null } = { token: null, get: () => store.token, set: (t) => void (store.token = t) };
  const sent: string[] = [];
  const time = clock();
  const name = `tabs-${process.pid}-${++tabGroup}`;
  const made = Array.from({ length: count }, () =>
    createAuthClient({ url: api.url, name, refreshToken: store, fetch: countingFetch(sent), locks: null, WebSocket: null, now: time.now, ...options }),
  );
  clients.push(...made);
  return { tabs: made, store, sent, time };
}

function events(client: AuthClient): string[] {
  const seen: string[] = [];
  client.onAuthStateChange((event, detail) => seen.push(detail.reason ? `${event}:${detail.reason}` : event));
  return seen;
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe("createAuthClient in Node", () => {
  it("signs in, hands out the access token without a request, and tells every tab SIGNED_IN", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [a, b], sent } = tabs(2);
    const seenB = events(b!);
    const user = await a!.signIn({ email, password: PASSWORD, device: "node test" });
    expect(user.email).toBe(email);
    const token = await a!.getAccessToken();
    expect(token).toMatch(/^eyJ/);
    await until(() => seenB.length > 0);
    expect(seenB).toEqual(["SIGNED_IN"]);
    expect(await b!.getAccessToken()).toBe(token);
    expect(sent).toEqual(["login"]);
  });

  it("registers and signs in", async () => {
    const { tabs: [a] } = tabs(1);
    const seen = events(a!);
    const email = uniqueEmail("client");
    expect((await a!.register({ email, password: PASSWORD })).email).toBe(email);
    expect(seen).toEqual(["SIGNED_IN"]);
  });

  it("after expiry, ten concurrent getAccessToken() across two tabs make one refresh and get one token (grace window 0)", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [a, b], sent, time } = tabs(2);
    await a!.signIn({ email, password: PASSWORD });
    await until(() => b!.currentAccessToken() !== null);
    time.pass(16 * 60_000);
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a! : b!).getAccessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toMatch(/^eyJ/);
    expect(sent.filter((op) => op === "refresh")).toHaveLength(1);
    // The session lives on: the new token works and a later refresh is accepted.
    expect(await a!.request<{ me: { email: string } }>("{ me { email } }")).toEqual({ me: { email } });
    time.pass(16 * 60_000);
    expect(await b!.getAccessToken()).toMatch(/^eyJ/);
    expect(a!.state.status).toBe("signedIn");
  });

  it("a sign-out in tab A reaches tab B as SIGNED_OUT, and B then asks the API nothing", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [a, b], sent, store } = tabs(2);
    const seenB = events(b!);
    await a!.signIn({ email, password: PASSWORD });
    await a!.signOut();
    await until(() => seenB.includes("SIGNED_OUT:SIGNED_OUT"));
    expect(store.token).toBeNull();
    expect(await b!.getAccessToken()).toBeNull();
    expect(sent).toEqual(["login", "logout"]);
  });

  it("signOutEverywhere ends every session of the user, on other devices too", async () => {
    const { email } = (await register(api.url)).user;
    const phone = tabs(1).tabs[0]!;
    const { tabs: [laptop] } = tabs(1);
    await phone.signIn({ email, password: PASSWORD });
    await laptop!.signIn({ email, password: PASSWORD });
    const seenPhone = events(phone);
    await laptop!.signOutEverywhere();
    expect(laptop!.state).toMatchObject({ status: "signedOut", reason: "SIGNED_OUT_EVERYWHERE" });
    // Without the live socket, the phone learns it at its next request: once, and then it stops.
    await expect(phone.request("{ me { email } }")).rejects.toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
    expect(seenPhone).toEqual(["SIGNED_OUT:TOKEN_REVOKED"]);
  });

  it("a revoked session does not loop: one refresh, one SIGNED_OUT in every tab, then no request at all", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [a, b], sent, time } = tabs(2);
    const seenA = events(a!);
    const seenB = events(b!);
    await a!.signIn({ email, password: PASSWORD });
    const other = createAuthClient({ url: api.url, refreshToken: "memory", BroadcastChannel: null, WebSocket: null });
    clients.push(other);
    await other.signIn({ email, password: PASSWORD });
    await other.signOutEverywhere();

    time.pass(16 * 60_000);
    const results = await Promise.all([a!.getAccessToken(), b!.getAccessToken(), a!.getAccessToken(), b!.getAccessToken()]);
    expect(results).toEqual([null, null, null, null]);
    await until(() => seenB.length > 1);
    for (let i = 0; i < 5; i++) expect(await (i % 2 ? a! : b!).getAccessToken()).toBeNull();
    expect(sent).toEqual(["login", "refresh"]);
    expect(seenA).toEqual(["SIGNED_IN", expect.stringMatching(/^SIGNED_OUT:/)]);
    expect(seenB).toEqual(seenA);
  });

  it("a request refused with TOKEN_REVOKED signs out without a refresh; TOKEN_EXPIRED refreshes once and retries", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [a], sent } = tabs(1);
    await a!.signIn({ email, password: PASSWORD });
    expect(await a!.refused("TOKEN_EXPIRED")).toBe(true);
    expect(await a!.request("{ me { email } }")).toEqual({ me: { email } });
    expect(sent).toEqual(["login", "refresh", "me"]);
  });

  it("fetch adds the bearer token", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [a] } = tabs(1);
    await a!.signIn({ email, password: PASSWORD });
    const response = await a!.fetch(api.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ me { email } }" }) });
    expect(await response.json()).toEqual({ data: { me: { email } } });
  });

  it("a fresh client with no refresh token is signed out (NO_SESSION) without a request", async () => {
    const { tabs: [a], sent } = tabs(1);
    const seen = events(a!);
    expect(await a!.getAccessToken()).toBeNull();
    expect(seen).toEqual(["SIGNED_OUT:NO_SESSION"]);
    expect(sent).toEqual([]);
  });

  it("a refresh that cannot reach the API throws and decides nothing: no SIGNED_OUT", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [a], time } = tabs(1);
    await a!.signIn({ email, password: PASSWORD });
    const seen = events(a!);
    const down = createAuthClient({ url: "http://127.0.0.1:9/graphql", refreshToken: "memory", BroadcastChannel: null, WebSocket: null });
    clients.push(down);
    time.pass(16 * 60_000);
    await expect(down.signIn({ email, password: PASSWORD })).rejects.toMatchObject({ code: "NETWORK_ERROR" });
    expect(down.state.status).toBe("unknown");
    expect(await a!.getAccessToken()).toMatch(/^eyJ/);
    expect(seen).toEqual(["TOKEN_REFRESHED"]);
  });

  it("signs out every tab even when the API cannot be reached, and then says why", async () => {
    const { email } = (await register(api.url)).user;
    let offline = false;
    const flaky: FetchLike = (url, init) => (offline ? Promise.reject(new TypeError("fetch failed")) : fetch(url, init as RequestInit));
    const { tabs: [a, b] } = tabs(2, { fetch: flaky });
    const seenB = events(b!);
    await a!.signIn({ email, password: PASSWORD });
    offline = true;
    await expect(a!.signOut()).rejects.toMatchObject({ code: "NETWORK_ERROR" });
    expect(a!.state).toMatchObject({ status: "signedOut", reason: "SIGNED_OUT" });
    await until(() => seenB.at(-1) === "SIGNED_OUT:SIGNED_OUT");
  });

  it("wrong credentials are a typed error with the API's code and reason", async () => {
    const { tabs: [a] } = tabs(1);
    await expect(a!.signIn({ email: uniqueEmail(), password: "wrong password" })).rejects.toMatchObject({
      name: "AuthClientError",
      code: "UNAUTHENTICATED",
      reason: "INVALID_CREDENTIALS",
    });
    expect(a!.state.status).toBe("unknown");
  });

  it("a listener that throws does not keep the others from hearing the event", async () => {
    const { email } = (await register(api.url)).user;
    const { tabs: [a] } = tabs(1);
    const heard: string[] = [];
    const reported = jest.spyOn(console, "error").mockImplementation((error: Error) => void heard.push(`reported: ${error.message}`));
    a!.onAuthStateChange(() => {
      throw new Error("listener bug");
    });
    const unsubscribe = a!.onAuthStateChange((event) => heard.push(event));
    await a!.signIn({ email, password: PASSWORD });
    unsubscribe();
    await a!.signOut();
    reported.mockRestore();
    expect(heard).toEqual(["reported: listener bug", "SIGNED_IN", "reported: listener bug"]);
  });
});
