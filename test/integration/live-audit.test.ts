import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { print } from "graphql";
import pino from "pino";
import WebSocket from "ws";
import {
  AuditEventsDocument,
  AuditEventsLiveDocument,
  LoginDocument,
  SecurityEventsDocument,
  SetUserDisabledDocument,
  SetUserRolesDocument,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { auditSubscriptions, closedWithin, openLive, subscribeAuditEvents, wsUrl, type AuditSubscription, type LiveClient } from "../support/live";
import { startRedis, type TestRedis } from "../support/redis";

/**
 * The live `auditEvents` subscription: two instances on one Redis, every socket opened on `a`, and
 * (unless a test says otherwise) every event caused on `b`. Each instance tails the global audit
 * stream itself, on one connection, only while an admin subscription is open on it.
 */
let redis: TestRedis;
let a: TestApi;
let b: TestApi;
let admin: Awaited<ReturnType<typeof login>>;
const ROOT_EMAIL = uniqueEmail("root");
const UA = "Mozilla/5.0 (X11; Linux x86_64) live-audit-test";
const open: LiveClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  // MAIL_URL=off: a register writes no verification event, so each test sees only the events it makes.
  const env = { ADMIN_EMAIL: ROOT_EMAIL, ADMIN_PASSWORD: PASSWORD, TRUST_PROXY: "1", MAIL_URL: "off", LIVE_RECHECK_SECONDS: "60" };
  // A re-check far away, so the sockets outlive Redis' restart below.
  [a, b] = await Promise.all([startApi(redis.url, env), startApi(redis.url, env)]);
  admin = await login(b.url, ROOT_EMAIL);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((live) => live.dispose()));
  // Every subscription ended on the server too, so each test starts with no tail open.
  await Promise.all([auditSubscriptions(a.url, 0), auditSubscriptions(b.url, 0)]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.destroy();
});

async function live(url: string, token: string) {
  const client = await openLive(url, token, { subscribe: false });
  open.push(client);
  return client;
}

/** An admin's subscription on its own socket on `a`. */
async function watch(filter: Parameters<typeof subscribeAuditEvents>[1] = null, token = admin.accessToken): Promise<AuditSubscription> {
  return subscribeAuditEvents(await live(a.url, token), filter);
}

const from = (ip: string, token?: string) => ({ token, headers: { "x-forwarded-for": ip, "user-agent": UA } });
const failLogin = (email: string, ip = "198.51.100.40") => send(b.url, LoginDocument, { input: { email, password: "not the password" } }, from(ip));
const tailConnections = async () => ((await redis.client.call("CLIENT", "LIST")) as string).split("\n").filter((line) => / cmd=xread /.test(line));
/** The tail connections left once Redis has seen the closes (they reach it a moment after the client's). */
async function tailsGone(withinMs = 2000) {
  const deadline = Date.now() + withinMs;
  while ((await tailConnections()).length > 0 && Date.now() < deadline) await settle();
  return tailConnections();
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

/**
 * A TCP relay in front of Redis that can hold the connections opened after `hold()`: accepted and
 * never forwarded, so the client's connection stays opening until it gives up or is closed.
 */
async function relayTo(url: string) {
  const target = new URL(url);
  let holding = false;
  const held = new Set<Socket>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on("error", () => undefined);
    client.on("close", () => {
      sockets.delete(client);
      held.delete(client);
    });
    if (holding) {
      held.add(client);
      // Read and dropped, so the client's end is seen.
      return void client.resume();
    }
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: () => void (holding = true),
    held: () => held.size,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
const tailErrors = async (url: string) => Number(/^auth_live_audit_tail_errors_total (\d+)/m.exec(await (await fetch(url.replace(/graphql$/, "metrics"))).text())?.[1]);
const retention = { maxAgeMs: 3_600_000, maxPerUser: 100, maxGlobal: 10_000 };
const entryAbout = (userId: string, type: string) => ({ eventId: randomUUID(), type, actorId: null, userId, sessionId: null, clientIp: "198.51.100.43", userAgent: null, device: null, details: {} });

describe("the live auditEvents subscription, across instances", () => {
  it("delivers an event written on another instance, with the query's fields", async () => {
    const user = await register(b.url);
    const subscription = await watch({ userId: user.user.id });
    await auditSubscriptions(a.url, 1);
    await failLogin(user.user.email, "198.51.100.41");
    const [event] = await subscription.eventsAtLeast(1);
    expect(event).toEqual({
      id: expect.stringMatching(/^[\w-]{16}$/),
      cursor: expect.any(String),
      type: "LOGIN_FAILED",
      at: expect.any(String),
      actorId: null,
      userId: user.user.id,
      sessionId: null,
      current: false,
      device: null,
      ip: "198.51.100.41",
      userAgent: UA,
      details: {},
    });
    // The query without a userId reads the same global stream, so the same entry, `at` included.
    const queried = await send(b.url, AuditEventsDocument, { first: 1, filter: { types: ["LOGIN_FAILED"] } }, { token: admin.accessToken });
    expect(queried.data?.auditEvents.nodes).toEqual([event]);
  });

  it("names each event by an id that is the same in the user's stream, the global one and the live feed", async () => {
    const user = await register(b.url);
    const subscription = await watch({ userId: user.user.id });
    await auditSubscriptions(a.url, 1);
    await failLogin(user.user.email);
    await failLogin(user.user.email);
    const live = await subscription.eventsAtLeast(2);
    // With a userId the query reads the user's own stream, whose entry ids are its own: the event ids are the same.
    const theirs = (await send(b.url, AuditEventsDocument, { first: 2, filter: { userId: user.user.id, types: ["LOGIN_FAILED"] } }, { token: admin.accessToken })).data!.auditEvents.nodes;
    expect(theirs.map((event) => event.id)).toEqual(live.map((event) => event.id).reverse());
    expect(new Set(live.map((event) => event.id)).size).toBe(2);
    // The user's own history names them alike.
    const own = (await send(a.url, SecurityEventsDocument, { first: 10 }, { token: user.accessToken })).data!.securityEvents.edges.map((edge) => edge.node);
    expect(own.filter((event) => event.type === "LOGIN_FAILED").map((event) => event.id)).toEqual(theirs.map((event) => event.id));
  });

  it("gives each event the cursor the query gives it, so a catch-up can start from one and drop duplicates", async () => {
    const users = [await register(b.url), await register(b.url), await register(b.url)];
    const subscription = await watch({ types: ["LOGIN_FAILED"] });
    await auditSubscriptions(a.url, 1);
    for (const user of users) await failLogin(user.user.email);
    const live = await subscription.eventsAtLeast(3);
    // The query without userId reads the global trail, as the tail does: the same entries, the same cursors.
    const queried = await send(b.url, AuditEventsDocument, { first: 3, filter: { types: ["LOGIN_FAILED"], from: live[0]!.at } }, { token: admin.accessToken });
    expect(queried.data?.auditEvents.nodes).toEqual([...live].reverse());
    const cursors = new Set(live.map((event) => event.cursor));
    expect(cursors.size).toBe(3);
    // A page of the query goes on from a live event's cursor: the events before it.
    const before = await send(b.url, AuditEventsDocument, { first: 2, after: live[2]!.cursor, filter: { types: ["LOGIN_FAILED"] } }, { token: admin.accessToken });
    expect(before.data?.auditEvents.nodes.map((event) => event.cursor)).toEqual([live[1]!.cursor, live[0]!.cursor]);
  });

  it("names the admin who acted, and marks current what the subscriber's own session did", async () => {
    const target = await register(b.url);
    const subscription = await watch({ userId: target.user.id });
    await auditSubscriptions(a.url, 1);
    await send(b.url, SetUserDisabledDocument, { userId: target.user.id, disabled: true }, from("198.51.100.42", admin.accessToken));
    const [event] = await subscription.eventsAtLeast(1);
    expect(event).toMatchObject({
      type: "USER_DISABLED",
      actorId: admin.user.id,
      userId: target.user.id,
      sessionId: admin.sessionId,
      current: true,
      ip: "198.51.100.42",
      details: { action: "setUserDisabled", disabled: true },
    });
  });

  it("narrows by the filter as the query does: userId (the subject), actorId, types, from and to", async () => {
    const [one, two] = [await register(b.url), await register(b.url)];
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const subscriptions = {
      everything: await watch(),
      aboutOne: await watch({ userId: one.user.id }),
      signIns: await watch({ types: ["SIGNED_IN"] }),
      oneFailing: await watch({ userId: one.user.id, types: ["LOGIN_FAILED"] }),
      byAdmin: await watch({ actorId: admin.user.id }),
      later: await watch({ from: new Date(Date.now() + 3_600_000).toISOString() }),
      earlier: await watch({ to: hourAgo }),
      window: await watch({ userId: two.user.id, from: hourAgo, to: new Date(Date.now() + 3_600_000).toISOString() }),
    };
    await auditSubscriptions(a.url, Object.keys(subscriptions).length);
    await login(b.url, one.user.email);
    await failLogin(one.user.email);
    await login(b.url, two.user.email);
    await send(b.url, SetUserDisabledDocument, { userId: two.user.id, disabled: true }, { token: admin.accessToken });
    await subscriptions.everything.eventsAtLeast(4);
    await settle();
    const seen = (subscription: AuditSubscription) => subscription.events.map((event) => [event.type, event.userId]);
    expect(seen(subscriptions.everything)).toEqual([
      ["SIGNED_IN", one.user.id],
      ["LOGIN_FAILED", one.user.id],
      ["SIGNED_IN", two.user.id],
      ["USER_DISABLED", two.user.id],
    ]);
    expect(seen(subscriptions.aboutOne)).toEqual([
      ["SIGNED_IN", one.user.id],
      ["LOGIN_FAILED", one.user.id],
    ]);
    expect(seen(subscriptions.signIns)).toEqual([
      ["SIGNED_IN", one.user.id],
      ["SIGNED_IN", two.user.id],
    ]);
    expect(seen(subscriptions.oneFailing)).toEqual([["LOGIN_FAILED", one.user.id]]);
    expect(seen(subscriptions.byAdmin)).toEqual([["USER_DISABLED", two.user.id]]);
    expect(seen(subscriptions.later)).toEqual([]);
    expect(seen(subscriptions.earlier)).toEqual([]);
    expect(seen(subscriptions.window)).toEqual([
      ["SIGNED_IN", two.user.id],
      ["USER_DISABLED", two.user.id],
    ]);
  });

  it("refuses a non-admin with FORBIDDEN MISSING_ROLE, and a bad filter with BAD_USER_INPUT, keeping the socket", async () => {
    const user = await register(b.url);
    const socket = await live(a.url, user.accessToken);
    const refused = subscribeAuditEvents(socket);
    await refused.ended;
    expect(refused.errors.map((error) => error.extensions)).toEqual([expect.objectContaining({ code: "FORBIDDEN", reason: "MISSING_ROLE" })]);
    expect(refused.events).toEqual([]);
    expect(await socket.me()).toBe(user.user.id);

    const bad = await watch({ types: ["signed in"] });
    await bad.ended;
    expect(bad.errors.map((error) => error.extensions)).toEqual([expect.objectContaining({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" })]);
    expect(await tailConnections()).toEqual([]);
  });

  it("holds one connection per instance tailing the trail while admins listen, and none once they stop", async () => {
    await watch();
    await watch({ types: ["SIGNED_IN"] });
    subscribeAuditEvents(await live(b.url, admin.accessToken));
    await Promise.all([auditSubscriptions(a.url, 2), auditSubscriptions(b.url, 1)]);
    expect(await tailConnections()).toHaveLength(2);
    await Promise.all(open.splice(0).map((client) => client.dispose()));
    await Promise.all([auditSubscriptions(a.url, 0), auditSubscriptions(b.url, 0)]);
    expect(await tailsGone()).toEqual([]);
  });

  it("goes on from where it stopped when its connection is cut: an event written meanwhile still arrives", async () => {
    const userId = randomUUID();
    const subscription = await watch({ userId });
    await auditSubscriptions(a.url, 1);
    const [tail] = await tailConnections();
    await redis.client.call("CLIENT", "KILL", "ID", /\bid=(\d+)/.exec(tail!)![1]!);
    // Written after the tail's connection died and before it reads again.
    await b.store.appendAuditEvent(entryAbout(userId, "LOGIN_FAILED"), retention);
    await b.store.appendAuditEvent(entryAbout(userId, "PASSWORD_RESET"), retention);
    expect((await subscription.eventsAtLeast(2)).map((event) => event.type)).toEqual(["LOGIN_FAILED", "PASSWORD_RESET"]);
    expect(await tailErrors(a.url)).toBeGreaterThanOrEqual(1);
  });

  it("backs off while Redis is down, and delivers again from where it stopped once it is back", async () => {
    const userId = randomUUID();
    const subscription = await watch({ userId });
    await auditSubscriptions(a.url, 1);
    await b.store.appendAuditEvent(entryAbout(userId, "LOGIN_FAILED"), retention);
    await subscription.eventsAtLeast(1);
    const before = await tailErrors(a.url);
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const failedReads = (await tailErrors(a.url)) - before;
    await redis.start();
    // Back-off of 100 ms doubling: about five reads in two seconds; a loop without it makes thousands.
    expect(failedReads).toBeGreaterThanOrEqual(2);
    expect(failedReads).toBeLessThanOrEqual(8);
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await b.store.appendAuditEvent(entryAbout(userId, "PASSWORD_RESET"), retention);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await settle();
      }
    }
    expect((await subscription.eventsAtLeast(2, 8000)).map((event) => event.type)).toEqual(["LOGIN_FAILED", "PASSWORD_RESET"]);
  });

  it("ends its subscriptions and closes its tail when the instance stops", async () => {
    const c = await startApi(redis.url, { MAIL_URL: "off" });
    let stopped = false;
    try {
      const user = await register(c.url);
      await c.store.setUserRoles(user.user.id, ["USER", "ADMIN"]);
      const socket = await openLive(c.url, user.accessToken, { subscribe: false });
      subscribeAuditEvents(socket);
      await auditSubscriptions(c.url, 1);
      expect(await tailConnections()).toHaveLength(1);
      const started = Date.now();
      await c.stop();
      stopped = true;
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await closedWithin(socket, 1000)).toEqual({ code: 1001, reason: "SERVER_SHUTTING_DOWN" });
      expect(await tailsGone()).toEqual([]);
      await socket.dispose();
    } finally {
      if (!stopped) await c.stop();
    }
  });

  it("refuses to subscribe, naming the ACL rule to grant, when the Redis user may not run XREAD", async () => {
    await redis.client.call("ACL", "SETUSER", "noxread", "on", ">api-password-123", "~*", "&*", "+@all", "-xread");
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    const c = await startApi(redis.url, { MAIL_URL: "off", REDIS_USERNAME: "noxread", REDIS_PASSWORD: "api-password-123" }, { logger });
    try {
      const user = await register(c.url);
      await c.store.setUserRoles(user.user.id, ["USER", "ADMIN"]);
      const socket = await openLive(c.url, user.accessToken, { subscribe: false });
      open.push(socket);
      const subscription = subscribeAuditEvents(socket);
      // Without the check at subscribe, the tail's reads failed unseen and this never ended.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([subscription.ended, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
      clearTimeout(timer);
      expect(subscription.errors).toEqual([
        expect.objectContaining({
          message: "the Redis user may not run XREAD on auth:{audit}:events, which live auditEvents subscriptions tail: grant it with ACL SETUSER <user> +xread (see docs/live.md)",
          extensions: { code: "SERVICE_UNAVAILABLE", reason: "STORE_UNAVAILABLE" },
        }),
      ]);
      await auditSubscriptions(c.url, 0);
      expect(await socket.me()).toBe(user.user.id);
      const logged = lines.map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } }).filter((line) => line.level === 50);
      expect(logged).toEqual([expect.objectContaining({ msg: subscription.errors[0]!.message, err: expect.objectContaining({ message: expect.stringMatching(/^NOPERM/) }) })]);
    } finally {
      await c.stop();
    }
  });

  it("closes, when the instance stops, a tail connection it is still opening", async () => {
    const relay = await relayTo(redis.url);
    const c = await startApi(relay.url, { MAIL_URL: "off" });
    let stopped = false;
    try {
      const user = await register(c.url);
      await c.store.setUserRoles(user.user.id, ["USER", "ADMIN"]);
      const socket = await openLive(c.url, user.accessToken, { subscribe: false });
      open.push(socket);
      // Connections opened from now on are accepted and never answered: the tail's stays "connecting".
      relay.hold();
      subscribeAuditEvents(socket);
      const deadline = Date.now() + 3000;
      while (relay.held() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(relay.held()).toBe(1);
      await c.stop();
      stopped = true;
      // Not left to give up by itself (5 s later), or to finish opening once Redis answers.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(relay.held()).toBe(0);
    } finally {
      if (!stopped) await c.stop();
      relay.close();
    }
  });

  it("closes a demoted admin's socket with 4403 ROLES_CHANGED, after which their subscription hears nothing", async () => {
    const other = await register(b.url);
    await send(b.url, SetUserRolesDocument, { userId: other.user.id, roles: ["USER", "ADMIN"] }, { token: admin.accessToken });
    const watcher = await watch();
    const socket = await live(a.url, other.accessToken);
    const demoted = subscribeAuditEvents(socket);
    await auditSubscriptions(a.url, 2);
    await send(b.url, SetUserRolesDocument, { userId: other.user.id, roles: ["USER"] }, { token: admin.accessToken });
    expect(await closedWithin(socket, 2000)).toEqual({ code: 4403, reason: "ROLES_CHANGED" });
    await auditSubscriptions(a.url, 1);
    const heard = demoted.events.length;
    const user = await register(b.url);
    await failLogin(user.user.email);
    await watcher.eventsAtLeast(3); // USER_ROLES_CHANGED, SIGNED_IN, LOGIN_FAILED
    expect(watcher.events.at(-1)).toMatchObject({ type: "LOGIN_FAILED", userId: user.user.id });
    expect(demoted.events).toHaveLength(heard);
    expect(demoted.events.map((event) => event.userId)).not.toContain(user.user.id);
  });
});

describe("the live auditEvents subscription on the embedded store", () => {
  const MAX_QUEUED = 100;
  const email = uniqueEmail("root");
  let api: TestApi;
  let root: Awaited<ReturnType<typeof login>>;
  beforeAll(async () => {
    api = await startApi(null, { ADMIN_EMAIL: email, ADMIN_PASSWORD: PASSWORD, MAIL_URL: "off", LIVE_AUDIT_MAX_QUEUED: String(MAX_QUEUED) });
    root = await login(api.url, email);
  });
  afterAll(() => api?.stop());

  it("delivers the instance's events, and ends with the subscriber", async () => {
    const socket = await openLive(api.url, root.accessToken, { subscribe: false });
    open.push(socket);
    const subscription = subscribeAuditEvents(socket, { types: ["LOGIN_FAILED", "SIGNED_IN"] });
    await auditSubscriptions(api.url, 1);
    const user = await register(api.url);
    await send(api.url, LoginDocument, { input: { email: user.user.email, password: "not the password" } });
    const events = await subscription.eventsAtLeast(2);
    expect(events.map((event) => [event.type, event.userId, event.current])).toEqual([
      ["SIGNED_IN", user.user.id, false],
      ["LOGIN_FAILED", user.user.id, false],
    ]);
    await socket.dispose();
    await auditSubscriptions(api.url, 0);
  });

  const reset = (userId: string, details: Record<string, unknown> = {}) => ({ eventId: randomUUID(), type: "PASSWORD_RESET", actorId: null, userId, sessionId: null, clientIp: null, userAgent: null, device: null, details });
  const roomy = { maxAgeMs: 60_000, maxPerUser: 10, maxGlobal: 10_000 };

  it("delivers a burst of more than LIVE_AUDIT_MAX_QUEUED events, whole and in order, to a subscriber that keeps up", async () => {
    const socket = await openLive(api.url, root.accessToken, { subscribe: false });
    open.push(socket);
    const subscription = subscribeAuditEvents(socket, { types: ["PASSWORD_RESET"] });
    await auditSubscriptions(api.url, 1);
    // Written at once, so the tail finds them all at its next read.
    const burst = Array.from({ length: Math.round(2.5 * MAX_QUEUED) }, () => randomUUID());
    await Promise.all(burst.map((userId) => api.store.appendAuditEvent(reset(userId), roomy)));
    await subscription.eventsAtLeast(burst.length, 10_000);
    expect(subscription.events.map((event) => event.userId)).toEqual(burst);
    expect(subscription.errors).toEqual([]);
  });

  it("ends a subscriber that stops reading with SUBSCRIBER_TOO_SLOW, after the events it had, in order, keeping the socket", async () => {
    const overflows = async () => Number(/^auth_live_audit_overflows_total (\d+)/m.exec(await (await fetch(api.url.replace(/graphql$/, "metrics"))).text())?.[1]);
    const before = await overflows();
    const ws = new WebSocket(wsUrl(api.url), "graphql-transport-ws");
    const frames: { id?: string; type: string; payload?: { data?: { auditEvents: { userId: string } } | null; errors?: { extensions: unknown }[] } }[] = [];
    ws.on("message", (data) => frames.push(JSON.parse(String(data)) as (typeof frames)[number]));
    try {
      await once(ws, "open");
      ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${root.accessToken}` } }));
      while (!frames.some((frame) => frame.type === "connection_ack")) await new Promise((resolve) => setTimeout(resolve, 10));
      ws.send(JSON.stringify({ id: "s", type: "subscribe", payload: { query: print(AuditEventsLiveDocument), variables: { filter: { types: ["PASSWORD_RESET"] } } } }));
      await auditSubscriptions(api.url, 1);
      // A client that stops reading: once the socket's buffers are full, the server's writes wait,
      // and the events behind them pile up in the subscription's queue.
      ws.pause();
      const burst = Array.from({ length: 4 * MAX_QUEUED }, () => randomUUID());
      const padding = "x".repeat(64 * 1024);
      await Promise.all(burst.map((userId) => api.store.appendAuditEvent(reset(userId, { padding }), roomy)));
      const deadline = Date.now() + 8000;
      while ((await overflows()) === before && Date.now() < deadline) await settle();
      expect(await overflows()).toBe(before + 1);
      ws.resume();
      const ended = () => frames.some((frame) => frame.id === "s" && (frame.type === "complete" || frame.type === "error"));
      while (!ended() && Date.now() < deadline + 5000) await settle();
      const results = frames.filter((frame) => frame.id === "s" && frame.type === "next").map((frame) => frame.payload!);
      const delivered = results.filter((result) => result.data).map((result) => result.data!.auditEvents.userId);
      // The ones the socket's buffers took, then the MAX_QUEUED held behind them: the oldest, in order.
      expect(delivered.length).toBeGreaterThanOrEqual(MAX_QUEUED);
      expect(delivered.length).toBeLessThan(burst.length);
      expect(delivered).toEqual(burst.slice(0, delivered.length));
      expect(results.slice(delivered.length).map((result) => result.errors?.map((error) => error.extensions))).toEqual([[{ code: "SERVICE_UNAVAILABLE", reason: "SUBSCRIBER_TOO_SLOW" }]]);
      expect(frames.at(-1)).toEqual({ id: "s", type: "complete" });
      expect(ws.readyState).toBe(WebSocket.OPEN);
      await auditSubscriptions(api.url, 0);
    } finally {
      ws.terminate();
    }
  });
});
