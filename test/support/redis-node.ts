import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { waitUntilAnswering } from "./redis";

/** One redis-server (or sentinel) process of a multi-node test topology, on loopback. */
export interface RedisNode {
  readonly port: number;
  readonly address: string;
  /** Sends a signal: SIGKILL for a crash, SIGSTOP/SIGCONT to freeze and thaw. */
  signal(name: NodeJS.Signals): void;
  /** A fresh plain client to this node; the caller disconnects it. */
  connect(): Redis;
  stop(): Promise<void>;
  readonly alive: boolean;
}

/** Starts redis-server with `args` in its own folder under `dir`, and waits until it answers PING. */
export async function startNode(dir: string, port: number, args: string[]): Promise<RedisNode> {
  const home = join(dir, String(port));
  mkdirSync(home, { recursive: true });
  const child: ChildProcess = spawn("redis-server", [...args, "--port", String(port), "--bind", "127.0.0.1", "--dir", home, "--daemonize", "no"], {
    stdio: "ignore",
    cwd: home,
  });
  await waitUntilAnswering(`redis://127.0.0.1:${port}`, child).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw error;
  });
  return {
    port,
    address: `127.0.0.1:${port}`,
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    signal: (name) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(name);
    },
    connect: () => {
      // Bounded: a node frozen with SIGSTOP accepts connections but never answers.
      const client = new Redis({ host: "127.0.0.1", port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 2000, commandTimeout: 2000 });
      client.on("error", () => undefined);
      return client;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGCONT");
      child.kill("SIGKILL");
      await once(child, "exit");
    },
  };
}

/** Polls `check` until it holds, or fails naming `what` after `withinMs`; returns how long it took. */
export async function eventually(what: string, check: () => Promise<boolean>, withinMs = 20_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      if (await check()) return Date.now() - started;
    } catch {
      // not yet
    }
    if (Date.now() - started > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs a command on a node with a short-lived client. */
export async function ask<T = unknown>(node: RedisNode, ...command: [string, ...(string | number)[]]): Promise<T> {
  const client = node.connect();
  try {
    return (await client.call(...command)) as T;
  } finally {
    client.disconnect();
  }
}
