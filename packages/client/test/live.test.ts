import { generateKeyPair, type KeyPair } from "dpop";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { createAuthClient, type AuthClient, type FetchLike, type SessionEvent, type SocketFactory } from "../src/index.js";
import { graphqlWsOptions } from "../src/graphql-ws.js";
import { LoginDocument, LogoutAllDocument } from "../../../schema/generated/graphql.js";
import { startApi, type TestApi } from "../../../test/support/api.js";
import { PASSWORD, register, send } from "../../../test/support/client.js";

// The live part against the API's real WebSocket endpoint, with `ws` as the WebSocket. Node has no
// Web Locks, so each "tab" keeps its own socket here; Chromium's one-per-browser is in the e2e test.
const Socket = WebSocket as unknown as SocketFactory;

let api: TestApi;
/** Access tokens of two seconds: the API closes sockets with 4403 TOKEN_EXPIRED as they pass. */
let shortLived: TestApi;
beforeAll(async () => {
  api = await startApi(null, { REFRESH_REUSE_GRACE_SECONDS: "0" });
  shortLived = await startApi(null, { REFRESH_REUSE_GRACE_SECONDS: "0", ACCESS_TOKEN_TTL: "2" });
});
afterAll(async () => {
  await api.stop();
  await shortLived.stop();
});

const clients: AuthClient[] = [];
afterEach(() => clients.splice(0).forEach((client) => client.close()));

let group = 0;
/** `count` tabs of one user, signed in; every HTTP operation they send is recorded by name. */
async function signedInTabs(url: string, count: number, dpop?: () => Promise<KeyPair>) {
  const { email } = (await register(url)).user;
  const sent: string[] = [];
  const fetchLike: FetchLike = async (target, init) => {
    sent.push(/\{\s*(\w+)/.exec((JSON.parse(init.body ?? "{}") as { query?: string }).query ?? "")?.[1] ?? "?");
    return fetch(target, init as RequestInit);
  };
  const store = { token: null as string | null, get: () => store.token, set: (t: string | null) => void (store.token = t) };
  const name = `live-${process.pid}-${++group}`;
  const tabs = Array.from({ length: count }, () => createAuthClient({ url, name, refreshToken: store, fetch: fetchLike, locks: null, WebSocket: Socket, ...(dpop ? { dpop } : {}) }));
  clients.push(...tabs);
  const events = tabs.map((tab) => {
    const seen: string[] = [];
    tab.onAuthStateChange((event, detail) => seen.push(detail.reason ? `${event}:${detail.reason}` : event));
    return seen;
  });
  const sessionEvents = tabs.map((tab) => {
    const seen: SessionEvent[] = [];
    tab.onSessionEvent((event) => seen.push(event));
    return seen;
  });
  await tabs[0]!.signIn({ email, password: PASSWORD });
  return { email, tabs, sent, events, sessionEvents };
}

/** Signs in on "another device" and answers its access token. */
async function anotherDevice(url: string, email: string): Promise<string> {
  const result = await send(url, LoginDocument, { input: { email, password: PASSWORD, device: "another device" } });
  return result.data!.login.accessToken;
}

async function until(check: () => boolean, withinMs = 5_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
}

/** Until a login elsewhere arrives as a sessionEvent in every tab: the subscriptions are in place. */
async function untilLive(url: string, email: string, sessionEvents: SessionEvent[][]): Promise<string> {
  let token = "";
  for (let attempt = 0; attempt < 50 && !sessionEvents.every((seen) => seen.some((e) => e.type === "SIGNED_IN")); attempt++) {
    token = await anotherDevice(url, email);
    await new Promise((r) => setTimeout(r, 100));
  }
  await until(() => sessionEvents.every((seen) => seen.some((e) => e.type === "SIGNED_IN" && e.device === "another device")));
  return token;
}

describe("the client's live sessionEvents socket", () => {
  it("tells every tab about a login on another device", async () => {
    const { email, sessionEvents } = await signedInTabs(api.url, 2);
    await untilLive(api.url, email, sessionEvents);
    expect(sessionEvents[0]![0]).toMatchObject({ type: "SIGNED_IN", device: "another device", sessionId: expect.any(String), at: expect.any(String) });
  });

  it("opens with a DPoP-bound session: the API accepts its connection_init only with the DPoP token and a proof for GET on the ws URL", async () => {
    const { tabs, email, sessionEvents } = await signedInTabs(api.url, 1);
    expect(tabs[0]!.state).toMatchObject({ session: { tokenType: "DPoP" } });
    await untilLive(api.url, email, sessionEvents);
    expect(sessionEvents[0]![0]).toMatchObject({ type: "SIGNED_IN" });
  });

  it("opens once the DPoP key loads again: a key that fails at connection_init is retried with backoff, not the socket's end", async () => {
    const pair = await generateKeyPair("ES256");
    let loads = 0;
    // The sign-in's proof, then two failed loads (IndexedDB's connection lost), then the key again.
    const flaky = async () => (++loads === 2 || loads === 3 ? Promise.reject(new Error("UnknownError: Connection to Indexed Database server lost")) : pair);
    const { tabs, email, sessionEvents } = await signedInTabs(api.url, 1, flaky);
    expect(tabs[0]!.state).toMatchObject({ status: "signedIn", session: { tokenType: "DPoP" } });
    await untilLive(api.url, email, sessionEvents);
    expect(loads).toBeGreaterThanOrEqual(4);
  });

  it("a logoutAll from another device signs out every tab at once, with no request from them", async () => {
    const { email, sent, events, sessionEvents } = await signedInTabs(api.url, 2);
    const other = await untilLive(api.url, email, sessionEvents);
    const before = sent.length;
    await send(api.url, LogoutAllDocument, {}, { token: other });
    await until(() => events.every((seen) => seen.at(-1) === "SIGNED_OUT:TOKEN_REVOKED"));
    expect(events).toEqual([
      ["SIGNED_IN", "SIGNED_OUT:TOKEN_REVOKED"],
      ["SIGNED_IN", "SIGNED_OUT:TOKEN_REVOKED"],
    ]);
    expect(sent.slice(before)).toEqual([]);
  });

  it("after the API closes the socket at the token's expiry (4403), reconnects with a refreshed token and keeps delivering", async () => {
    const { email, sent, sessionEvents } = await signedInTabs(shortLived.url, 1);
    await untilLive(shortLived.url, email, sessionEvents);
    await new Promise((r) => setTimeout(r, 2_500));
    sessionEvents[0]!.length = 0;
    await untilLive(shortLived.url, email, sessionEvents);
    expect(sent).toContain("refresh");
    expect(clients[0]!.state.status).toBe("signedIn");
  });
});

describe("graphqlWsOptions with graphql-ws's own client", () => {
  it("reconnects after 4403 with a refreshed token, and stops and signs out after 4401", async () => {
    const { email, tabs, events } = await signedInTabs(shortLived.url, 1);
    const auth = tabs[0]!;
    const closes: number[] = [];
    const options = graphqlWsOptions(auth);
    const ws = createClient({
      url: shortLived.url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 5,
      retryWait: () => new Promise((r) => setTimeout(r, 50)),
      onNonLazyError: () => undefined,
      ...options,
      on: { closed: (event) => (closes.push((event as { code: number }).code), options.on.closed(event)) },
    });
    const received: string[] = [];
    ws.subscribe({ query: "subscription { sessionEvents { type device } }" }, { next: (r) => received.push(String((r.data as { sessionEvents: { type: string } }).sessionEvents.type)), error: () => undefined, complete: () => undefined });
    try {
      await until(() => closes.includes(4403), 5_000);
      // After the reconnect, a login elsewhere still arrives on the subscription.
      let other = "";
      for (let attempt = 0; attempt < 25 && !received.includes("SIGNED_IN"); attempt++) {
        other = await anotherDevice(shortLived.url, email);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(received).toContain("SIGNED_IN");
      await send(shortLived.url, LogoutAllDocument, {}, { token: other });
      await until(() => closes.includes(4401));
      await until(() => events[0]!.at(-1) === "SIGNED_OUT:TOKEN_REVOKED");
      const count = closes.length;
      await new Promise((r) => setTimeout(r, 300));
      expect(closes.length).toBe(count);
    } finally {
      await ws.dispose();
    }
  });
});
