import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import pino from "pino";
import type { PasswordHashing } from "../../src/auth/accounts/passwords";
import type { Clock } from "../../src/clock";
import { loadConfig, type Config } from "../../src/config";
import { startServer, type RunningServer, type ServerDeps } from "../../src/server";
import { COMPILE_CACHE_VARIABLE, freePort } from "./ports";

/** The secret every test server signs with, so tests can forge tokens the way an attacker would try. */
export const TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789";
export const TEST_ISSUER = "auth-api-tests";
export const TEST_AUDIENCE = "auth-api-test-clients";

export interface TestApi extends RunningServer {
  readonly config: Config;
}

/**
 * What a suite's run adds to the environment of every API it starts on a Redis, before the suite's
 * own variables: a suite's Postgres run adds DATABASE_URL (directory.ts, which sets it, so the
 * scripts that use this file need no test runner).
 */
export const runEnv: { forRedis: (redisUrl: string) => Record<string, string> } = { forRedis: () => ({}) };

export function testEnv(redisUrl: string | null, env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: "test",
    PORT: "0",
    JWT_SECRET: TEST_SECRET,
    JWT_ISSUER: TEST_ISSUER,
    JWT_AUDIENCE: TEST_AUDIENCE,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    // In a suite's Postgres run (directory.ts), its directory in Postgres.
    ...(redisUrl ? runEnv.forRedis(redisUrl) : {}),
    // Every test client is 127.0.0.1: per-IP limits are raised; tests of throttling set their own.
    REGISTER_MAX_PER_IP: "1000000",
    LOGIN_MAX_FAILURES_PER_IP: "1000000",
    RECOVERY_MAX_PER_IP: "1000000",
    OIDC_START_MAX_PER_IP: "1000000",
    ...env,
  };
}

/**
 * argon2id at a fraction of OWASP's cost (1 MiB, one pass: about 1 ms against 84): every register
 * and login in the in-process suites pays it. Suites that measure how long hashing takes (fair
 * hashing, the unknown-email timing) pass `passwordHashing: OWASP_HASHING` to startApi, and
 * spawned processes (spawnApi) always hash at OWASP's cost: the environment cannot lower it.
 */
export const TEST_HASHING: PasswordHashing = { memoryCost: 1024, timeCost: 1 };

/**
 * The real server in this process, on a free port, with Redis when a URL is given; the third
 * argument is a test clock, or server deps (a clock, listeners, the cost of hashing: TEST_HASHING
 * unless given).
 */
export async function startApi(redisUrl: string | null, env: Record<string, string> = {}, deps: Partial<ServerDeps> | Clock = {}): Promise<TestApi> {
  const config = loadConfig(testEnv(redisUrl, env));
  const serverDeps: Partial<ServerDeps> = "now" in deps && typeof deps.now === "function" ? { clock: deps as Clock } : (deps as Partial<ServerDeps>);
  const server = await startServer(config, { logger: pino({ level: "silent" }), passwordHashing: TEST_HASHING, ...serverDeps });
  return { ...server, config };
}

export interface ApiProcess {
  readonly url: string;
  readonly process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Sends `signal` (SIGTERM) and resolves with the exit code, or the name of the signal that ended it. */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals | null>;
}

export interface SpawnOptions {
  /** "discard" drops stdout (the benchmark's millions of request lines); stderr is always kept. */
  readonly stdout?: "keep" | "discard";
  /** Node's own flags, before the entry point (the benchmark's --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** The port to listen on (the benchmark's OAuth row names its issuer, OAUTH_ISSUER, by it); a free one otherwise. */
  readonly port?: number;
}

/** The built entry point (`node dist/index.js`, as `npm start` runs it) in its own process. */
export async function spawnApi(redisUrl: string | null, env: Record<string, string> = {}, options: SpawnOptions = {}): Promise<ApiProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), resolve(repositoryRoot(), "dist/index.js")], {
    env: {
      PATH: process.env.PATH ?? "",
      // The run's bytecode cache: no setting of the API's, it only spares each process compiling the same modules.
      ...(process.env[COMPILE_CACHE_VARIABLE] ? { [COMPILE_CACHE_VARIABLE]: process.env[COMPILE_CACHE_VARIABLE] } : {}),
      ...testEnv(redisUrl, { LOG_LEVEL: "info", ...env, PORT: String(port) }),
    },
    stdio: ["ignore", options.stdout === "discard" ? "ignore" : "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, "exit");
  const base = `http://localhost:${port}`;
  // With WORKERS > 1 one worker answering is not enough: tests spread sockets over every worker.
  // The primary's "worker listening" lines say when all do; without stdout (the benchmark) or below
  // info, nothing does, and one worker answering is taken as started.
  const workers = Number(env.WORKERS ?? "1");
  const logsListening = options.stdout !== "discard" && ["info", "debug", "trace"].includes(env.LOG_LEVEL ?? "info");
  const listening = () => output.split('"msg":"worker listening"').length - 1 >= workers;
  try {
    await waitUntilHealthy(base, () => child.exitCode !== null);
    if (workers > 1 && logsListening) await waitUntil(`${workers} workers listening`, listening, () => child.exitCode !== null);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`API process did not start: ${(error as Error).message}\n${output}`);
  }
  return {
    url: `${base}/graphql`,
    process: child,
    output: () => output,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode !== null) return child.exitCode;
      // Ended already, by a signal nobody here sent: say which (a crash is SIGABRT or SIGSEGV).
      if (child.signalCode !== null) return child.signalCode;
      child.kill(signal);
      const [code, ended] = (await exited) as [number | null, NodeJS.Signals | null];
      return code ?? ended;
    },
  };
}

async function waitUntil(what: string, done: () => boolean, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!done()) {
    if (exited()) throw new Error("it exited");
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitUntilHealthy(base: string, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited()) throw new Error("it exited");
    if (Date.now() > deadline) throw new Error("timed out");
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The folder with package.json above this file, wherever this file was compiled to. */
function repositoryRoot(): string {
  let dir = __dirname;
  while (!existsSync(resolve(dir, "package.json"))) dir = dirname(dir);
  return dir;
}
