import { once } from "node:events";
import { print } from "graphql";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { LogoutAllDocument, LogoutDocument, MeDocument, RefreshDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, register, send } from "../support/client";
import { auditSubscriptions, closedWithin, openLive, refusedWith, subscribeAuditEvents, wsUrl, type LiveClient } from "../support/live";
import { startRedis, type TestRedis } from "../support/redis";
import { storeSeam } from "../support/store-seam";

/** The bounds beyond pub/sub: expiry, the periodic re-check, the re-check on reconnect, Redis down. */
let redis: TestRedis;
const apis: TestApi[] = [];
const open: LiveClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  redis.resume();
  await Promise.all(open.splice(0).map((live) => live.dispose()));
  await Promise.all(apis.splice(0).map((api) => api.stop()));
});
afterAll(async () => {
  await redis?.destroy();
});

async function api(env: Record<string, string> = {}) {
  const started = await startApi(redis.url, env);
  apis.push(started);
  return started;
}

async function live(url: string, token: string) {
  const client = await openLive(url, token);
  open.push(client);
  return client;
}

/** Ends the session in the store only: no event is published, as if the message were lost. */
const endSilently = (on: TestApi, user: { user: { id: string }; sessionId: string }) => on.store.endSession(user.user.id, user.sessionId);

describe("a revocation while a socket is being accepted", () => {
  it("closes the socket with 4401 at once: its event found no socket to close, so the accepted socket's state is read again", async () => {
    // The tracing port wraps the store: the seam runs logoutAll, to its end and its event's delivery,
    // right after the socket's own check read the session's state and before the socket is added.
    const seam = storeSeam("accessState", "after");
    const server = await startApi(redis.url, { LIVE_RECHECK_SECONDS: "300" }, { tracing: seam.tracing });
    apis.push(server);
    const user = await register(server.url);
    const other = await login(server.url, user.user.email);
    seam.arm(async () => {
      expect((await send(server.url, LogoutAllDocument, {}, { token: other.accessToken })).data?.logoutAll).toBe(2);
      await new Promise((settle) => setTimeout(settle, 200));
    });
    // A socket that sends no operation (each operation checks the token again): only the server closes it.
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      const client = createClient({
        url: wsUrl(server.url),
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: () => undefined,
        connectionParams: { authorization: `Bearer ${user.accessToken}` },
        on: { closed: (event) => resolve({ code: (event as { code: number }).code, reason: String((event as { reason: unknown }).reason) }) },
      });
      open.push({ dispose: () => client.dispose() } as LiveClient);
    });
    const within = new Promise<string>((resolve) => setTimeout(() => resolve("still open after 3 s"), 3_000).unref());
    expect(await Promise.race([closed, within])).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  });
});

describe("expiry", () => {
  it("closes a socket with 4403 TOKEN_EXPIRED when its access token expires", async () => {
    const server = await api({ ACCESS_TOKEN_TTL: "2" });
    const user = await register(server.url);
    const client = await live(server.url, user.accessToken);
    const started = Date.now();
    expect(await closedWithin(client, 4000)).toEqual({ code: 4403, reason: "TOKEN_EXPIRED" });
    expect(Date.now() - started).toBeLessThan(2600);
  });

  it("lets graphql-ws's client reconnect after 4403 with a refreshed token from connectionParams", async () => {
    const server = await api({ ACCESS_TOKEN_TTL: "2" });
    let session = await register(server.url);
    let connections = 0;
    const client = createClient({
      url: wsUrl(server.url),
      webSocketImpl: WebSocket,
      retryAttempts: 3,
      retryWait: async () => undefined,
      connectionParams: async () => {
        connections++;
        if (connections > 1) {
          const refreshed = await send(server.url, RefreshDocument, { refreshToken: session.refreshToken! });
          session = refreshed.data!.refresh;
        }
        return { authorization: `Bearer ${session.accessToken}` };
      },
    });
    try {
      const closes: number[] = [];
      client.on("closed", (event) => closes.push((event as { code: number }).code));
      const meOverSocket = () =>
        new Promise<string>((resolve, reject) => {
          client.subscribe<{ me: { id: string } }>({ query: print(MeDocument) }, { next: (r) => resolve(r.data!.me.id), error: reject, complete: () => undefined });
        });
      // A subscription keeps the lazy client connected across the expiry.
      client.subscribe({ query: "subscription { sessionEvents { type } }" }, { next: () => undefined, error: () => undefined, complete: () => undefined });
      expect(await meOverSocket()).toBe(session.user.id);
      await new Promise((r) => setTimeout(r, 3000));
      expect(closes).toContain(4403);
      expect(connections).toBeGreaterThanOrEqual(2);
      expect(await meOverSocket()).toBe(session.user.id);
    } finally {
      await client.dispose();
    }
  });
});

describe("the re-check, when a message is lost", () => {
  it("closes a socket whose session ended without an event within LIVE_RECHECK_SECONDS", async () => {
    const server = await api({ LIVE_RECHECK_SECONDS: "1" });
    const user = await register(server.url);
    const client = await live(server.url, user.accessToken);
    await endSilently(server, user);
    expect(await closedWithin(client, 2500)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  });

  it("re-checks every socket at once when the subscriber reconnects (CLIENT KILL TYPE pubsub)", async () => {
    const server = await api({ LIVE_RECHECK_SECONDS: "300" });
    const user = await register(server.url);
    const client = await live(server.url, user.accessToken);
    await endSilently(server, user);
    await redis.client.call("CLIENT", "KILL", "TYPE", "pubsub");
    expect(await closedWithin(client, 3000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  });

  it("still closes within the re-check bound when the logout's message went out while the subscriber was killed", async () => {
    const [a, b] = [await api({ LIVE_RECHECK_SECONDS: "1" }), await api({ LIVE_RECHECK_SECONDS: "1" })];
    const user = await register(b.url);
    const client = await live(a.url, user.accessToken);
    await redis.client.call("CLIENT", "KILL", "TYPE", "pubsub");
    await send(b.url, LogoutDocument, {}, { token: user.accessToken });
    expect(await closedWithin(client, 2500)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  });
});

describe("Redis trouble", () => {
  it("under closed, closes sockets with 1013 once the re-check goes unanswered for LIVE_RECHECK_SECONDS, and refuses new ones", async () => {
    const server = await api({ LIVE_RECHECK_SECONDS: "1", STORE_TIMEOUT_MS: "200" });
    const user = await register(server.url);
    const other = await login(server.url, user.user.email);
    const client = await live(server.url, user.accessToken);
    redis.pause();
    expect(await closedWithin(client, 4000)).toEqual({ code: 1013, reason: "STORE_UNAVAILABLE" });
    expect(await refusedWith(server.url, { authorization: `Bearer ${other.accessToken}` })).toEqual({ code: 1013, reason: "STORE_UNAVAILABLE" });
  });

  it("under open, keeps sockets open while Redis is down", async () => {
    const server = await api({ LIVE_RECHECK_SECONDS: "1", STORE_TIMEOUT_MS: "200", REVOCATION_FAILURE_MODE: "open" });
    const user = await register(server.url);
    const client = await live(server.url, user.accessToken);
    redis.pause();
    await new Promise((r) => setTimeout(r, 3000));
    expect(client.isClosed()).toBe(false);
    const metrics = await (await fetch(server.url.replace("/graphql", "/metrics"))).text();
    expect(metrics).toMatch(/auth_live_unconfirmed_total [1-9]/);
    redis.resume();
  });

  /** A token that still claims ADMIN for a user the store no longer holds one (demoted there only: no event went out). */
  async function demotedAdmin(server: TestApi) {
    const user = await register(server.url);
    await server.store.setUserRoles(user.user.id, ["USER", "ADMIN"]);
    const admin = await login(server.url, user.user.email);
    await server.store.setUserRoles(user.user.id, ["USER"]);
    return admin;
  }

  it("under open, closes a socket accepted on its token alone with 4403 ROLES_CHANGED once Redis is back and knows other roles", async () => {
    const server = await api({ LIVE_RECHECK_SECONDS: "1", STORE_TIMEOUT_MS: "200", REVOCATION_FAILURE_MODE: "open" });
    const admin = await demotedAdmin(server);
    redis.pause();
    const ws = new WebSocket(wsUrl(server.url), "graphql-transport-ws");
    const closed = once(ws, "close").then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
    const acknowledged = new Promise((resolve) => ws.on("message", (data) => String(data).includes("connection_ack") && resolve(true)));
    await once(ws, "open");
    ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${admin.accessToken}` } }));
    // Accepted on the token's signature alone, with the token's roles.
    await acknowledged;
    redis.resume();
    const outcome = await Promise.race([closed, new Promise((resolve) => setTimeout(() => resolve("still open"), 4000).unref())]);
    ws.terminate();
    expect(outcome).toEqual({ code: 4403, reason: "ROLES_CHANGED" });
  });

  it("under open, refuses auditEvents with SERVICE_UNAVAILABLE while the roles can only be read from the token", async () => {
    const server = await api({ STORE_TIMEOUT_MS: "200", REVOCATION_FAILURE_MODE: "open" });
    const admin = await demotedAdmin(server);
    const socket = await live(server.url, admin.accessToken);
    redis.pause();
    const subscription = subscribeAuditEvents(socket);
    // The operation's check fails open after STORE_TIMEOUT_MS; Redis is back before a tail could give up.
    await new Promise((resolve) => setTimeout(resolve, 700));
    redis.resume();
    const outcome = await Promise.race([subscription.ended.then(() => "ended"), new Promise((resolve) => setTimeout(() => resolve("still running"), 4000).unref())]);
    expect(outcome).toBe("ended");
    expect(subscription.errors.map((error) => error.extensions)).toEqual([{ code: "SERVICE_UNAVAILABLE", reason: "STORE_UNAVAILABLE" }]);
    await auditSubscriptions(server.url, 0);
  });
});
