import { LogoutDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { auditSubscriptions, closedWithin, openLive, subscribeAuditEvents, type LiveClient } from "../support/live";
import { eventually } from "../support/redis-node";
import { startSentinel, type TestSentinel } from "../support/sentinel";

/**
 * Two instances on Redis with Sentinel. LIVE_RECHECK_SECONDS is long, so a socket closes in time
 * only through the channel, or the re-check its subscriber's reconnection triggers.
 */
let topology: TestSentinel;
let a: TestApi;
let b: TestApi;
const open: LiveClient[] = [];
const ADMIN_EMAIL = uniqueEmail("admin");

beforeAll(async () => {
  topology = await startSentinel();
  const env = { ...topology.env, STORE_TIMEOUT_MS: "500", LIVE_RECHECK_SECONDS: "300", ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD };
  [a, b] = await Promise.all([startApi(null, env), startApi(null, env)]);
}, 60_000);
afterAll(async () => {
  await Promise.all(open.map((live) => live.dispose()));
  await Promise.all([a?.stop(), b?.stop()]);
  await topology?.destroy();
});

async function socketOnA() {
  const user = await register(b.url);
  const live = await openLive(a.url, user.accessToken);
  open.push(live);
  return { user, live };
}

describe("live connections on Redis with Sentinel", () => {
  it("closes a socket on one instance when its session is logged out on the other", async () => {
    const { user, live } = await socketOnA();
    await send(b.url, LogoutDocument, {}, { token: user.accessToken });
    expect(await closedWithin(live, 2000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  });

  it("keeps closing sockets, and the audit tail keeps reading, through a failover (SIGKILL of the master)", async () => {
    const { user, live } = await socketOnA();
    // An admin on A watches the user's events: its tail must follow the master to the replica.
    const admin = await login(b.url, ADMIN_EMAIL);
    const adminLive = await openLive(a.url, admin.accessToken, { subscribe: false });
    open.push(adminLive);
    const watched = subscribeAuditEvents(adminLive, { userId: user.user.id });
    await auditSubscriptions(a.url, 1);
    const master = await topology.master();
    master.signal("SIGKILL");
    await eventually("a logout succeeds on the promoted replica", async () => (await send(b.url, LogoutDocument, {}, { token: user.accessToken })).data?.logout === true, 30_000);
    expect(await closedWithin(live, 5000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
    const [signedOut] = await watched.eventsAtLeast(1, 10_000);
    expect(signedOut).toMatchObject({ type: "SIGNED_OUT", userId: user.user.id, details: { scope: "session", ended: 1 } });
    expect(watched.errors).toEqual([]);
    expect((await topology.master()).port).toBe(topology.other(master).port);
    const { user: later, live: laterLive } = await socketOnA();
    await send(b.url, LogoutDocument, {}, { token: later.accessToken });
    expect(await closedWithin(laterLive, 3000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  }, 60_000);
});
