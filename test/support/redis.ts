import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./ports";

export { freePort };

/** A real redis-server on a free port, with append-only persistence in a temporary directory. */
export interface TestRedis {
  readonly url: string;
  /** A plain client for inspecting what the API wrote. */
  readonly client: Redis;
  /** Stops the server, keeping its data directory. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open but nothing answers. */
  pause(): void;
  resume(): void;
  /** Stops it for good and removes its data. */
  destroy(): Promise<void>;
}

export interface RedisOptions {
  /**
   * A one-node Redis Cluster owning every slot: the same commands work, but any command or script
   * whose keys span two hash slots fails with CROSSSLOT, as it would on a real cluster.
   */
  readonly cluster?: boolean;
}

export async function startRedis(options: RedisOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "auth-api-redis-"));
  const port = await freePort({ bus: options.cluster });
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess | null = null;

  const start = async () => {
    server = spawn(
      "redis-server",
      [
        ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--save", "", "--daemonize", "no"],
        ...(options.cluster ? ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"] : []),
      ],
      { stdio: "ignore" },
    );
    const started = server;
    await waitUntilAnswering(url, started).catch((error: unknown) => {
      started.kill("SIGKILL");
      throw error;
    });
  };
  const stop = async () => {
    const running = server as ChildProcess | null;
    server = null;
    if (!running || running.exitCode !== null) return;
    running.kill("SIGCONT");
    running.kill("SIGTERM");
    await once(running, "exit");
  };

  const signal = (name: NodeJS.Signals) => {
    const running = server as ChildProcess | null;
    running?.kill(name);
  };

  await start();
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on("error", () => undefined);
  await client.connect();
  if (options.cluster) await claimAllSlots(client);
  return {
    url,
    client,
    stop,
    start,
    pause: () => signal("SIGSTOP"),
    resume: () => signal("SIGCONT"),
    async destroy() {
      client.disconnect();
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Polls with a raw INFO over TCP (a refused ioredis connect would leave a 10 s timer behind) until
 * `child` answers on the url's port. Fails if the child exits first, or if another process answers
 * there: a server left running by an earlier run must not stand in for this one.
 */
export async function waitUntilAnswering(url: string, child: ChildProcess): Promise<void> {
  const { hostname, port } = new URL(url);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server for ${url} exited (${child.exitCode ?? child.signalCode}) before answering`);
    const pid = await answeringPid(hostname, Number(port));
    if (pid === child.pid) return;
    if (pid !== null) throw new Error(`another process (pid ${pid}) answers at ${url}, not the redis-server started for it (pid ${child.pid})`);
    if (Date.now() > deadline) throw new Error(`redis-server at ${url} did not answer`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The process_id in INFO of the redis-server or sentinel at host:port, once it also answers PING
 * (not -LOADING: still reading its data); null if nothing answers there yet.
 */
function answeringPid(host: string, port: number): Promise<number | null> {
  return new Promise((resolve) => {
    let reply = "";
    const socket = connect({ host, port }, () => socket.write("INFO server\r\nPING\r\n"));
    socket.setTimeout(1000, () => socket.destroy());
    socket.on("data", (data) => {
      reply += data.toString();
      const pong = reply.endsWith("\r\n+PONG\r\n");
      if (!pong && !/\r\n-[^\r]*\r\n$/.test(reply)) return;
      socket.destroy();
      const pid = /process_id:(\d+)/.exec(reply);
      resolve(pong && pid ? Number(pid[1]) : null);
    });
    socket.once("error", () => resolve(null));
    socket.once("close", () => resolve(null));
  });
}

async function claimAllSlots(client: Redis): Promise<void> {
  await client.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
  const deadline = Date.now() + 10_000;
  while (!String(await client.call("CLUSTER", "INFO")).includes("cluster_state:ok")) {
    if (Date.now() > deadline) throw new Error("cluster never became ok");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The commands that connections named `connectionName` (CLIENT SETNAME) send to `redis` while
 * `work` runs, lower-cased, in order, seen with MONITOR. Without a name, every client's commands.
 */
export async function commandsSentBy(redis: TestRedis, connectionName: string | null, work: () => Promise<unknown>): Promise<string[]> {
  const clients = String(await redis.client.client("LIST")).split("\n");
  const addresses = clients.filter((line) => line.includes(`name=${connectionName} `)).map((line) => /addr=(\S+)/.exec(line)?.[1] ?? "");
  if (connectionName !== null && addresses.length === 0) throw new Error(`no connection named ${connectionName} in CLIENT LIST`);
  const monitorClient = new Redis(redis.url);
  const monitor = await monitorClient.monitor();
  const seen: string[] = [];
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    if (connectionName === null || addresses.some((address) => source.endsWith(address))) seen.push(String(args[0]).toLowerCase());
  });
  try {
    await work();
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    monitor.disconnect();
    monitorClient.disconnect();
  }
  return seen;
}
