import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ask, eventually, startNode, type RedisNode } from "./redis-node";
import { freePort } from "./ports";

/**
 * The name the sentinels monitor, unique per topology: a sentinel left running by an earlier run
 * announces itself on the master it watches, and one with the same name would join this election.
 */
const masterName = () => `auth-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/** Redis with Sentinel: one master, one replica, three sentinels, on free loopback ports. */
export interface TestSentinel {
  /** The API's environment for this topology. */
  readonly env: { readonly REDIS_SENTINELS: string; readonly REDIS_SENTINEL_MASTER: string };
  readonly servers: readonly RedisNode[];
  readonly sentinels: readonly RedisNode[];
  /** The current master, as the sentinels say. */
  master(): Promise<RedisNode>;
  /** The data node that is not `node`. */
  other(node: RedisNode): RedisNode;
  /** What each sentinel and data node says about itself: for the error when a failover stalls. */
  describe(): Promise<unknown>;
  destroy(): Promise<void>;
}

export async function startSentinel(): Promise<TestSentinel> {
  const dir = mkdtempSync(join(tmpdir(), "auth-api-sentinel-"));
  const MASTER_NAME = masterName();
  const data = ["--appendonly", "yes", "--save", ""];
  const masterPort = await freePort();
  const master = await startNode(dir, masterPort, data);
  const replica = await startNode(dir, await freePort(), [...data, "--replicaof", "127.0.0.1", String(masterPort)]);
  const servers = [master, replica];
  const sentinels: RedisNode[] = [];
  const destroy = async () => {
    await Promise.all([...sentinels, ...servers].map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const home = join(dir, `sentinel-${port}`);
      mkdirSync(home, { recursive: true });
      const file = join(home, "sentinel.conf");
      // Sentinel rewrites its own config file, so each gets one of its own.
      writeFileSync(
        file,
        [
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 3000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          "",
        ].join("\n"),
      );
      sentinels.push(await startNode(dir, port, [file, "--sentinel"]));
    }
    await eventually("the replica is in sync", async () => {
      const role = await ask<[string, number, unknown[]]>(master, "ROLE");
      return role[2].length === 1;
    });
    await eventually("every sentinel knows the replica and the other sentinels", async () => {
      const checks = await Promise.all(
        sentinels.map(async (sentinel) => {
          const replicas = await ask<unknown[]>(sentinel, "SENTINEL", "REPLICAS", MASTER_NAME);
          const peers = await ask<unknown[]>(sentinel, "SENTINEL", "SENTINELS", MASTER_NAME);
          return replicas.length === 1 && peers.length === 2;
        }),
      );
      return checks.every(Boolean);
    });
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    env: { REDIS_SENTINELS: sentinels.map((s) => s.address).join(","), REDIS_SENTINEL_MASTER: MASTER_NAME },
    servers,
    sentinels,
    async master() {
      for (const sentinel of sentinels) {
        if (!sentinel.alive) continue;
        const [, port] = await ask<[string, string]>(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME);
        const node = servers.find((s) => s.port === Number(port));
        if (node) return node;
      }
      throw new Error("no sentinel named a master");
    },
    other: (node) => servers.find((s) => s !== node)!,
    async describe() {
      const fields = new Set(["port", "flags", "role-reported", "num-other-sentinels", "num-slaves", "config-epoch", "failover-state", "last-ok-ping-reply"]);
      const pick = (flat: string[]) => Object.fromEntries(flat.flatMap((name, i) => (i % 2 === 0 && fields.has(name) ? [[name, flat[i + 1]]] : [])));
      const seen = async (node: RedisNode, what: () => Promise<unknown>) => (node.alive ? what().catch((error: Error) => error.message) : "killed");
      // Data nodes first: the error may be cut short where it is shown.
      return {
        servers: await Promise.all(servers.map(async (server) => ({ port: server.port, role: await seen(server, () => ask(server, "ROLE")) }))),
        sentinels: await Promise.all(sentinels.map((sentinel) => seen(sentinel, async () => pick(await ask<string[]>(sentinel, "SENTINEL", "MASTER", MASTER_NAME))))),
      };
    },
    destroy,
  };
}
