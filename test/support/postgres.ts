import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { freePort } from "./ports";

/**
 * A real Postgres server (Debian's `postgresql` package) on a free loopback port, with its data in a
 * temporary directory: initdb'd per server, as redis.ts starts a redis-server per test file.
 */
export interface TestPostgres {
  readonly port: number;
  /** The superuser's URL to the `postgres` database: for creating databases and looking around. */
  readonly url: string;
  /** The URL of another database (or as another role, `postgres` trusted without a password) on this server. */
  urlOf(database: string, role?: string): string;
  /** A new, empty database, named after `prefix` and unique on this server; resolves with its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Runs SQL as the superuser in `database` (default `postgres`) on a short-lived connection. */
  query<Row extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<Row[]>;
  /** A clean shutdown ("fast": open sessions are ended), keeping the data directory. */
  stop(): Promise<void>;
  /** A crash: SIGKILL to the postmaster and every backend at once; the next start recovers from the WAL. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Freezes every process of the server (SIGSTOP): connections stay open but nothing answers. */
  pause(): void;
  resume(): void;
  /** Stops it for good and removes its data. */
  destroy(): Promise<void>;
  /** What the server wrote to stderr (its log), for a failure's message. */
  log(): string;
}

/**
 * Settings only a throwaway server may have: nothing here must survive a power cut. fsync and
 * full_page_writes off make CREATE DATABASE and every commit cheap on a loaded CI machine, and a
 * killed server still loses nothing (the WAL is in the page cache). synchronous_commit stays on:
 * off, a commit acknowledged just before kill() would be gone after it, which no real crash test wants.
 */
const TEST_SETTINGS = {
  listen_addresses: "127.0.0.1",
  // TCP only: no socket file in /var/run/postgresql, which belongs to the system's own cluster.
  unix_socket_directories: "",
  fsync: "off",
  full_page_writes: "off",
  shared_buffers: "16MB",
  max_connections: "100",
  max_wal_size: "256MB",
  // pg_stat_statements for the request-path tests (issue 32: no query on an authenticated request).
  shared_preload_libraries: "pg_stat_statements",
  log_min_messages: "warning",
  log_min_error_statement: "panic",
} as const;

/** The newest /usr/lib/postgresql/<version>/bin (Debian's layout), or PG_BIN when set. */
export function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, "bin", "postgres"))) : [];
  if (versions.length === 0) throw new Error("no Postgres server binaries under /usr/lib/postgresql/<version>/bin: apt-get install postgresql (or set PG_BIN)");
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]!;
  return join(root, newest, "bin");
}

/**
 * Postgres refuses to run as root. As root (CI containers), the server runs as the `postgres` user
 * the Debian package creates, and owns its directory; as anyone else, as that user.
 */
function serverUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("postgres:"));
  if (!line) throw new Error("running as root, but there is no postgres user to run the server as: apt-get install postgresql");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const user = serverUser();
  const home = mkdtempSync(join(tmpdir(), "auth-api-postgres-"));
  if (user) chownSync(home, user.uid, user.gid);
  const dataDir = join(home, "data");
  const asServerUser = { cwd: home, ...(user ?? {}) };
  const initdb = spawnSync(join(bin, "initdb"), ["-D", dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"], {
    ...asServerUser,
    encoding: "utf8",
  });
  if (initdb.status !== 0) {
    rmSync(home, { recursive: true, force: true });
    throw new Error(`initdb failed (${initdb.status ?? initdb.signal}): ${initdb.stderr}`);
  }
  const port = await freePort();
  const urlOf = (database: string, role = "postgres") => `postgres://${role}@127.0.0.1:${port}/${database}`;
  const url = urlOf("postgres");
  let server: ChildProcess | null = null;
  let log = "";

  const start = async () => {
    const settings = Object.entries(TEST_SETTINGS).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
    // Its own session and process group, so that kill() reaches the backends too, as a machine's crash would.
    const child = spawn(join(bin, "postgres"), ["-D", dataDir, "-p", String(port), ...settings], { ...asServerUser, stdio: ["ignore", "ignore", "pipe"], detached: true });
    child.stderr!.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
    server = child;
    await waitUntilAnswering(url, dataDir, child).catch((error: unknown) => {
      signalGroup(child, "SIGKILL");
      throw new Error(`${(error as Error).message}\n${log}`);
    });
  };

  const stopWith = async (signal: NodeJS.Signals) => {
    const running = server;
    server = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, "exit");
    signalGroup(running, "SIGCONT");
    // SIGINT is Postgres's "fast" shutdown: end the sessions, checkpoint, exit.
    signalGroup(running, signal);
    await exited;
    if (signal === "SIGKILL") await backendsGone(running.pid!);
  };

  const query = async <Row extends Record<string, unknown>>(sql: string, params: unknown[] = [], database = "postgres"): Promise<Row[]> => {
    const client = new Client({ connectionString: urlOf(database), connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      return (await client.query<Row>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };

  let databases = 0;
  await start();
  return {
    port,
    url,
    urlOf,
    async createDatabase(prefix = "test") {
      const name = `${prefix.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${++databases}`;
      await query(`CREATE DATABASE "${name}"`);
      return urlOf(name);
    },
    query,
    stop: () => stopWith("SIGINT"),
    kill: () => stopWith("SIGKILL"),
    start,
    pause: () => server && signalServer(server, "SIGSTOP"),
    resume: () => server && signalServer(server, "SIGCONT"),
    async destroy() {
      await stopWith("SIGINT");
      rmSync(home, { recursive: true, force: true });
    },
    log: () => log,
  };
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // the group is gone already
  }
}

/**
 * The postmaster and every process it forked. Each backend calls setsid() at its start (so the
 * postmaster can signal it as a group), so the postmaster's group alone would leave open
 * connections answering: a "frozen" server must freeze those too.
 */
function signalServer(child: ChildProcess, signal: NodeJS.Signals): void {
  const forked = spawnSync("ps", ["-o", "pid=", "--ppid", String(child.pid)], { encoding: "utf8" }).stdout;
  signalGroup(child, signal);
  for (const pid of forked.split("\n").map(Number).filter((n) => n > 0)) {
    try {
      process.kill(pid, signal);
    } catch {
      // it exited meanwhile
    }
  }
}

/** After a SIGKILL the group's backends die with the postmaster; a restart must not find one still attached. */
async function backendsGone(sessionId: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const listed = spawnSync("ps", ["-o", "pid=", "-s", String(sessionId)], { encoding: "utf8" });
    if (listed.stdout.trim() === "") return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Polls until the server started for `dataDir` accepts a query. Fails if the child exits first, or
 * if another server answers on the port: one left running by an earlier run must not stand in.
 */
async function waitUntilAnswering(url: string, dataDir: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres for ${url} exited (${child.exitCode ?? child.signalCode}) before answering`);
    const answering = await dataDirectoryAt(url);
    if (answering === dataDir) return;
    if (answering !== null) throw new Error(`another Postgres (data in ${answering}) answers at ${url}, not the one started for it`);
    if (Date.now() > deadline) throw new Error(`postgres at ${url} did not answer`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The data_directory of the server answering at `url`, or null while nothing answers (or it still starts up). */
async function dataDirectoryAt(url: string): Promise<string | null> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ data_directory: string }>("SELECT current_setting('data_directory') AS data_directory");
    return rows[0]!.data_directory;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}
