import { LogoutDocument, MeDocument } from "../../schema/generated/graphql";
import { keys } from "@revocable-auth/verifier/internal";
import { startApi, type TestApi } from "../support/api";
import { register, send } from "../support/client";
import { startCluster, type TestCluster } from "../support/cluster";
import { ask, eventually } from "../support/redis-node";
import { expectNoRevocationLost, failOverUnderTraffic } from "../support/traffic";

/** Generous: a failover takes about two cluster-node-timeouts (1 s each), on a loaded machine. */
const RECOVERS_WITHIN_MS = 25_000;

let cluster: TestCluster;
let api: TestApi;

beforeAll(async () => {
  cluster = await startCluster();
  api = await startApi(null, { ...cluster.env, STORE_TIMEOUT_MS: "500", REDIS_MIN_REPLICAS: "1" });
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await cluster?.destroy();
});

const me = (token: string) => send(api.url, MeDocument, {}, { token });
const commandCalls = async (port: number, command: string) => {
  const node = cluster.nodes.find((n) => n.port === port)!;
  const stats = await ask<string>(node, "INFO", "commandstats");
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
};
const waitCount = (port: number) => commandCalls(port, "wait");

describe("a Redis Cluster of 3 masters and 3 replicas, REDIS_MIN_REPLICAS=1", () => {
  it("sends WAIT to the master that owns the user's slot, right after the logout it confirms", async () => {
    const user = await register(api.url);
    const owner = await cluster.masterFor(keys.user(user.user.id));
    const before = await Promise.all(cluster.nodes.map((n) => waitCount(n.port)));
    expect((await send(api.url, LogoutDocument, {}, { token: user.accessToken })).data?.logout).toBe(true);
    const after = await Promise.all(cluster.nodes.map((n) => waitCount(n.port)));
    const grew = cluster.nodes.filter((_, i) => after[i]! > before[i]!).map((n) => n.port);
    expect(grew).toEqual([owner.port]);
    expect((await me(user.accessToken)).error?.reason).toBe("TOKEN_REVOKED");
  });

  it("costs one round trip per authenticated request: one MGET, on the master of the user's slot", async () => {
    const user = await register(api.url);
    const owner = await cluster.masterFor(keys.user(user.user.id));
    const mgets = () => Promise.all(cluster.nodes.map((n) => commandCalls(n.port, "mget")));
    const before = await mgets();
    for (let i = 0; i < 10; i++) expect((await me(user.accessToken)).status).toBe(200);
    const after = await mgets();
    const deltas = Object.fromEntries(cluster.nodes.map((n, i) => [n.port, after[i]! - before[i]!]).filter(([, d]) => d !== 0));
    expect(deltas).toEqual({ [owner.port]: 10 });
    expect((await fetch(api.url.replace(/graphql$/, "readyz"))).status).toBe(200);
  });

  it("answers 503 STORE_UNAVAILABLE for a logout no replica confirmed within STORE_TIMEOUT_MS", async () => {
    const user = await register(api.url);
    const owner = await cluster.masterFor(keys.user(user.user.id));
    const [replica] = await cluster.replicasOf(owner);
    replica!.signal("SIGSTOP");
    try {
      const started = Date.now();
      const result = await send(api.url, LogoutDocument, {}, { token: user.accessToken });
      expect(result.status).toBe(503);
      expect(result.error).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "STORE_UNAVAILABLE" });
      expect(Date.now() - started).toBeLessThan(500 + 1500);
    } finally {
      replica!.signal("SIGCONT");
    }
    // The write itself reached the master: the token is refused, never let back in.
    expect((await me(user.accessToken)).status).toBe(401);
  });

  it("on SIGKILL of the user's master: 503s for a while, never a revoked token let in, then success without restarting the API", async () => {
    let owner: Awaited<ReturnType<TestCluster["masterFor"]>> | undefined;
    const run = await failOverUnderTraffic(
      api.url,
      async (userId) => {
        owner = await cluster.masterFor(keys.user(userId));
        owner.signal("SIGKILL");
      },
      RECOVERS_WITHIN_MS,
      () => cluster.describe(),
    );
    expectNoRevocationLost(run, expect);
    expect((await cluster.masterFor(keys.user(run.userId))).port).not.toBe(owner!.port);
    await eventually("/readyz answers 200 again", async () => (await fetch(api.url.replace(/graphql$/, "readyz"))).status === 200, RECOVERS_WITHIN_MS);
  }, 2 * RECOVERS_WITHIN_MS + 20_000);
});
