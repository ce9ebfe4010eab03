import {
  ChangePasswordDocument,
  LogoutOthersDocument,
  SetUserRolesDocument,
  LogoutAllDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
  RevokeSessionDocument,
  SetUserDisabledDocument,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { closedWithin, openLive, type LiveClient } from "../support/live";
import { ask, eventually } from "../support/redis-node";
import { startSentinel, type TestSentinel } from "../support/sentinel";
import { expectNoRevocationLost, failOverUnderTraffic } from "../support/traffic";

/** Generous: sentinels need down-after-milliseconds (1 s) plus an election, on a loaded machine. */
const RECOVERS_WITHIN_MS = 30_000;

const ADMIN_EMAIL = uniqueEmail("admin");
let topology: TestSentinel;
let api: TestApi;

beforeAll(async () => {
  topology = await startSentinel();
  api = await startApi(null, { ...topology.env, STORE_TIMEOUT_MS: "500", REDIS_MIN_REPLICAS: "1", REFRESH_REUSE_GRACE_SECONDS: "0", ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD });
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await topology?.destroy();
});

const me = (token: string) => send(api.url, MeDocument, {}, { token });

describe("Redis with Sentinel (1 master, 1 replica, 3 sentinels), REDIS_MIN_REPLICAS=1", () => {
  it("runs the whole flow through the master the sentinels name", async () => {
    const user = await register(api.url);
    expect((await me(user.accessToken)).data?.me.id).toBe(user.user.id);
    expect((await send(api.url, LogoutDocument, {}, { token: user.accessToken })).data?.logout).toBe(true);
    expect((await me(user.accessToken)).error?.reason).toBe("TOKEN_REVOKED");
  });

  it("confirms with WAIT every write that revokes or ends something, and no other", async () => {
    const admin = await login(api.url, ADMIN_EMAIL);
    const master = await topology.master();
    const waits = async () => Number(/cmdstat_wait:calls=(\d+)/.exec(await ask<string>(master, "INFO", "commandstats"))?.[1] ?? 0);
    const waitsDuring = async (work: () => Promise<unknown>) => {
      const before = await waits();
      await work();
      return (await waits()) - before;
    };
    const user = await register(api.url);
    const other = await login(api.url, user.user.email);
    expect(await waitsDuring(() => me(user.accessToken))).toBe(0);
    let rotated = "";
    expect(await waitsDuring(async () => (rotated = (await send(api.url, RefreshDocument, { refreshToken: user.refreshToken! })).data!.refresh.refreshToken!))).toBe(0);
    expect(rotated).not.toBe("");
    const reuse = await send(api.url, RefreshDocument, { refreshToken: user.refreshToken! });
    expect(reuse.error?.reason).toBe("REFRESH_TOKEN_REUSED");
    const third = await login(api.url, user.user.email);
    expect(await waitsDuring(() => send(api.url, RevokeSessionDocument, { id: third.sessionId }, { token: other.accessToken }))).toBe(1);
    expect(await waitsDuring(() => send(api.url, LogoutAllDocument, {}, { token: other.accessToken }))).toBe(1);
    // Access changes are decided on {directory}, then applied on the user's slot: both confirmed.
    expect(await waitsDuring(() => send(api.url, SetUserDisabledDocument, { userId: user.user.id, disabled: true }, { token: admin.accessToken }))).toBe(2);
    const again = await register(api.url);
    const replayed = (await send(api.url, RefreshDocument, { refreshToken: again.refreshToken! })).data!.refresh;
    expect(replayed.refreshToken).toEqual(expect.any(String));
    expect(await waitsDuring(() => send(api.url, RefreshDocument, { refreshToken: again.refreshToken! }))).toBe(1);
    const fourth = await register(api.url);
    await login(api.url, fourth.user.email);
    expect(await waitsDuring(() => send(api.url, LogoutOthersDocument, {}, { token: fourth.accessToken }))).toBe(1);
    const change = { currentPassword: PASSWORD, newPassword: "another long password" };
    expect(await waitsDuring(() => send(api.url, ChangePasswordDocument, change, { token: fourth.accessToken }))).toBe(1);
    expect(await waitsDuring(() => send(api.url, SetUserRolesDocument, { userId: fourth.user.id, roles: ["USER"] }, { token: admin.accessToken }))).toBe(2);
  });

  it("answers 503 STORE_UNAVAILABLE for a logout the replica did not confirm within STORE_TIMEOUT_MS", async () => {
    const user = await register(api.url);
    const replica = topology.other(await topology.master());
    replica.signal("SIGSTOP");
    try {
      const result = await send(api.url, LogoutDocument, {}, { token: user.accessToken });
      expect(result.status).toBe(503);
      expect(result.error).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "STORE_UNAVAILABLE" });
    } finally {
      replica.signal("SIGCONT");
    }
    expect((await me(user.accessToken)).status).toBe(401);
  });

  it("on SIGKILL of the master: 503s for a while, never a revoked token let in, then success on the promoted replica", async () => {
    const master = await topology.master();
    const run = await failOverUnderTraffic(api.url, async () => master.signal("SIGKILL"), RECOVERS_WITHIN_MS, () => topology.describe());
    expectNoRevocationLost(run, expect);
    expect((await topology.master()).port).toBe(topology.other(master).port);
  }, RECOVERS_WITHIN_MS + 20_000);
});

/**
 * ioredis 6 ends a Sentinel client for good when +switch-master arrives while the client is asking
 * a sentinel where the master is (src/store/redis/connection.ts, keepConnecting). With the first
 * sentinel frozen, the API's first question after the kill waits STORE_TIMEOUT_MS (longer than a
 * failover takes) for its answer, so the announcement lands while it waits: without the guard, the
 * API stays at 503 after the failover.
 */
const FROZEN_SENTINEL_WAIT_MS = 5000;

describe("Redis with Sentinel, the first sentinel frozen while the master fails over", () => {
  let slow: TestSentinel;
  let slowApi: TestApi;
  let peer: TestApi;
  let live: LiveClient | null = null;

  beforeAll(async () => {
    slow = await startSentinel();
    // A long re-check: a socket closes in time only through the live channel's subscriber.
    const env = { ...slow.env, STORE_TIMEOUT_MS: String(FROZEN_SENTINEL_WAIT_MS), LIVE_RECHECK_SECONDS: "300" };
    [slowApi, peer] = await Promise.all([startApi(null, env), startApi(null, env)]);
  }, 60_000);
  afterAll(async () => {
    await live?.dispose();
    await Promise.all([slowApi?.stop(), peer?.stop()]);
    await slow?.destroy();
  });

  it("connects to the promoted replica all the same: requests, and the live channel's subscriber", async () => {
    const master = await slow.master();
    const first = slow.sentinels[0]!;
    first.signal("SIGSTOP");
    try {
      const run = await failOverUnderTraffic(slowApi.url, async () => master.signal("SIGKILL"), RECOVERS_WITHIN_MS, () => slow.describe());
      expectNoRevocationLost(run, expect);
      // The subscriber went through the same failover: a logout on the other instance still closes a socket here.
      const user = await register(peer.url);
      live = await openLive(slowApi.url, user.accessToken);
      await eventually("a logout on the other instance succeeds", async () => (await send(peer.url, LogoutDocument, {}, { token: user.accessToken })).data?.logout === true, 20_000);
      expect(await closedWithin(live, 10_000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
    } finally {
      first.signal("SIGCONT");
    }
  }, RECOVERS_WITHIN_MS + 40_000);
});
