import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ask, eventually, startNode, type RedisNode } from "./redis-node";
import { freePort } from "./ports";

const run = promisify(execFile);

/** A real Redis Cluster: 3 masters, 3 replicas, each a redis-server with AOF on a free loopback port. */
export interface TestCluster {
  /** The API's environment for this cluster. */
  readonly env: { readonly REDIS_CLUSTER_NODES: string };
  readonly nodes: readonly RedisNode[];
  /** The master that owns the slot of `key`, as the cluster says now. */
  masterFor(key: string): Promise<RedisNode>;
  /** The replicas of a master, as that master says now. */
  replicasOf(master: RedisNode): Promise<RedisNode[]>;
  /** The cluster's state and node table, as a live node says: for the error when a failover stalls. */
  describe(): Promise<unknown>;
  destroy(): Promise<void>;
}

/** A short node timeout, so a killed master is failed over in a couple of seconds. */
const NODE_TIMEOUT_MS = 1000;

export async function startCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "auth-api-cluster-"));
  const ports: number[] = [];
  while (ports.length < 6) {
    // A cluster node also listens on port + 10000 (the bus): a bus port some other process held
    // made a node fail to start (CI saw "did not answer").
    ports.push(await freePort({ bus: true }));
  }
  const args = [
    ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", String(NODE_TIMEOUT_MS)],
    ...["--appendonly", "yes", "--save", ""],
  ];
  const nodes = await Promise.all(ports.map((port) => startNode(dir, port, args)));
  const destroy = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run("redis-cli", ["--cluster", "create", ...nodes.map((n) => n.address), "--cluster-replicas", "1", "--cluster-yes"]);
    await eventually("every node sees the cluster ok", async () => {
      const infos = await Promise.all(nodes.map((node) => ask<string>(node, "CLUSTER", "INFO")));
      return infos.every((info) => info.includes("cluster_state:ok"));
    });
    await eventually("every master has its replica in sync", async () => {
      const roles = await Promise.all(nodes.map((node) => ask<unknown[]>(node, "ROLE")));
      const masters = roles.filter((role) => role[0] === "master");
      return masters.length === 3 && masters.every((role) => (role[2] as unknown[]).length === 1);
    });
  } catch (error) {
    await destroy();
    throw error;
  }
  const byPort = (port: number) => {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no node on port ${port}`);
    return node;
  };
  const alive = () => nodes.find((node) => node.alive)!;
  return {
    env: { REDIS_CLUSTER_NODES: nodes.map((n) => n.address).join(",") },
    nodes,
    async masterFor(key) {
      const slot = await ask<number>(alive(), "CLUSTER", "KEYSLOT", key);
      const ranges = await ask<[number, number, [string, number, ...unknown[]]][]>(alive(), "CLUSTER", "SLOTS");
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no master for slot ${slot}`);
      return byPort(Number(range[2][1]));
    },
    async replicasOf(master) {
      const role = await ask<[string, number, [string, string, string][]]>(master, "ROLE");
      return role[2].map(([, port]) => byPort(Number(port)));
    },
    async describe() {
      const state = /cluster_state:(\w+)/.exec(await ask<string>(alive(), "CLUSTER", "INFO"))?.[1];
      return { state, nodes: (await ask<string>(alive(), "CLUSTER", "NODES")).trim().split("\n") };
    },
    destroy,
  };
}
