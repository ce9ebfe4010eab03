import { LIVE_CHANNEL } from "@revocable-auth/verifier/internal";
import { LoginDocument, LogoutDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { register, send } from "../support/client";
import { startCluster, type TestCluster } from "../support/cluster";
import { auditSubscriptions, closedWithin, openLive, subscribeAuditEvents, type LiveClient } from "../support/live";
import { ask, eventually } from "../support/redis-node";

/**
 * Two instances on a 3+3 Cluster. The channel is sharded (SSUBSCRIBE/SPUBLISH): it lives on the
 * master owning its slot. LIVE_RECHECK_SECONDS is long, so only the channel can close in time.
 */
let cluster: TestCluster;
let a: TestApi;
let b: TestApi;
const open: LiveClient[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  const env = { ...cluster.env, STORE_TIMEOUT_MS: "500", LIVE_RECHECK_SECONDS: "300" };
  [a, b] = await Promise.all([startApi(null, env), startApi(null, env)]);
}, 60_000);
afterAll(async () => {
  await Promise.all(open.map((live) => live.dispose()));
  await Promise.all([a?.stop(), b?.stop()]);
  await cluster?.destroy();
});

async function socketOnA() {
  const user = await register(b.url);
  const live = await openLive(a.url, user.accessToken);
  open.push(live);
  return { user, live };
}

describe("live connections on a Redis Cluster of 3 masters and 3 replicas", () => {
  it("publishes on the sharded channel, to the master that owns its slot only", async () => {
    const { user, live } = await socketOnA();
    const owner = await cluster.masterFor(LIVE_CHANNEL);
    const spublishes = () => Promise.all(cluster.nodes.map(async (n) => Number(/cmdstat_spublish:calls=(\d+)/.exec(await ask<string>(n, "INFO", "commandstats"))?.[1] ?? 0)));
    const before = await spublishes();
    await send(b.url, LogoutDocument, {}, { token: user.accessToken });
    expect(await closedWithin(live, 2000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
    const after = await spublishes();
    expect(cluster.nodes.filter((_, i) => after[i]! > before[i]!).map((n) => n.port)).toEqual([owner.port]);
  });

  it("delivers a live audit event written on B to an admin on A, tailed from the master of the global stream's slot", async () => {
    const watcher = await register(b.url);
    await a.store.setUserRoles(watcher.user.id, ["USER", "ADMIN"]);
    const user = await register(b.url);
    const socket = await openLive(a.url, watcher.accessToken, { subscribe: false });
    try {
      const subscription = subscribeAuditEvents(socket, { userId: user.user.id });
      await auditSubscriptions(a.url, 1);
      await send(b.url, LoginDocument, { input: { email: user.user.email, password: "not the password" } });
      expect(await subscription.eventsAtLeast(1)).toEqual([expect.objectContaining({ type: "LOGIN_FAILED", userId: user.user.id })]);
      const owner = await cluster.masterFor("auth:{audit}:events");
      const tailing = await Promise.all(cluster.nodes.map(async (n) => / cmd=xread /.test(await ask<string>(n, "CLIENT", "LIST"))));
      expect(cluster.nodes.filter((_, i) => tailing[i]).map((n) => n.port)).toEqual([owner.port]);
    } finally {
      await socket.dispose();
    }
    await auditSubscriptions(a.url, 0);
  });

  it("keeps closing sockets after the channel's master fails over", async () => {
    const { user, live } = await socketOnA();
    const owner = await cluster.masterFor(LIVE_CHANNEL);
    owner.signal("SIGKILL");
    await eventually("a logout succeeds after the failover", async () => (await send(b.url, LogoutDocument, {}, { token: user.accessToken })).data?.logout === true, 25_000);
    expect(await closedWithin(live, 5000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
    // Other slots may sit on the failed master too: their first requests after the promotion can
    // still answer 503 while the API's client refreshes its slot map, so the next sign-up retries.
    let opened: Awaited<ReturnType<typeof socketOnA>> | null = null;
    await eventually("a new socket opens after the failover", async () => {
      opened = await socketOnA().catch(() => null);
      return opened !== null;
    }, 15_000);
    const { user: later, live: laterLive } = opened!;
    await send(b.url, LogoutDocument, {}, { token: later.accessToken });
    expect(await closedWithin(laterLive, 3000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  }, 60_000);
});
