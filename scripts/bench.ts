/**
 * `npm run bench`: this API against the ceiling of its stack and against the tutorial way, measured
 * fairly on one machine in one run (issue 7):
 *   - every server in a process of its own, the load generator (autocannon) in this one;
 *   - a warm-up for each, then interleaved rounds (a b c d e f, a b c d e f, ...), so drift in the
 *     machine's load hits every row alike; medians with min–max over the rounds;
 *   - Redis bytes per session and per revoked access token (INFO memory around N of each);
 *   - the p99 of `me` while 20 logins (argon2) run at once.
 * Prints Markdown tables; asserts nothing. Runs the built server (dist/).
 *
 * BENCH_SECONDS (per measurement, default 10), BENCH_ROUNDS (default 5), BENCH_WARMUP_SECONDS
 * (default 5), BENCH_CONNECTIONS (default 64), BENCH_MEMORY_ENTRIES (default 10000). BENCH_ROWS
 * (e.g. "d,e") measures only those throughput rows and skips the other sections, for a quick A/B.
 * Live connections (bench-live.ts): BENCH_LIVE_SOCKETS (1000) open while BENCH_LIVE_LOGOUTS (200)
 * logouts are timed, BENCH_LIVE_IDLE_SOCKETS (10000) for memory; BENCH_ONLY=live runs just those.
 */
import "reflect-metadata";
import { spawn } from "node:child_process";
import { availableParallelism, cpus } from "node:os";
import { resolve } from "node:path";
import autocannon from "autocannon";
import { print } from "graphql";
import jwt from "jsonwebtoken";
import pino from "pino";
import { LoginDocument, RegisterDocument } from "../schema/generated/graphql";
import { randomId } from "../src/auth/tokens";
import { loadConfig } from "../src/config";
import { singleNode } from "../src/store/redis/connection";
import { connectRedisStore } from "../src/store/redis/redis-store";
import { spawnApi, TEST_SECRET } from "../test/support/api";
import { freePort, startRedis, type TestRedis } from "../test/support/redis";
import { liveMemory, liveRevocationLatency } from "./bench-live";

const SECONDS = fromEnv("BENCH_SECONDS", 10);
const ROUNDS = fromEnv("BENCH_ROUNDS", 5);
const WARMUP_SECONDS = fromEnv("BENCH_WARMUP_SECONDS", 5);
const CONNECTIONS = fromEnv("BENCH_CONNECTIONS", 64);
const MEMORY_ENTRIES = fromEnv("BENCH_MEMORY_ENTRIES", 10_000);
const LIVE_SOCKETS = fromEnv("BENCH_LIVE_SOCKETS", 1000);
const LIVE_LOGOUTS = fromEnv("BENCH_LIVE_LOGOUTS", 200);
const LIVE_IDLE_SOCKETS = fromEnv("BENCH_LIVE_IDLE_SOCKETS", 10_000);
const ROWS = process.env.BENCH_ROWS ? new Set(process.env.BENCH_ROWS.split(",").map((row) => row.trim())) : null;
const CONCURRENT_LOGINS = 20;
const PASSWORD = "bench password, long enough";
const ME = JSON.stringify({ query: "{ me { id } }" });

function fromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

interface Target {
  readonly row: string;
  readonly label: string;
  readonly url: string;
  readonly body: string;
  readonly headers: Record<string, string>;
}

interface Sample {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
}

interface Server {
  readonly url: string;
  stop(): Promise<unknown>;
}

/** Closed-loop load: CONNECTIONS keep-alive connections for `seconds`. Any non-2xx answer aborts the run. */
async function load(target: Pick<Target, "url" | "body" | "headers">, seconds: number, connections = CONNECTIONS): Promise<Sample> {
  const result = await autocannon({
    url: target.url,
    method: "POST",
    headers: { "content-type": "application/json", ...target.headers },
    body: target.body,
    connections,
    duration: seconds,
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${target.url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

/** One of the bench's own servers (scripts/bench/*.ts, built to dist-scripts) in a process of its own. */
async function spawnScript(file: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [resolve(__dirname, file)], {
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "test", PORT: String(port), ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${file} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${file} did not start`);
    try {
      const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"{ __typename }"}' });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop: () => new Promise((r) => (child.exitCode !== null ? r(null) : (child.once("exit", r), child.kill("SIGTERM")))) };
}

async function registerUser(url: string): Promise<{ email: string; accessToken: string }> {
  const email = `bench-${randomId()}@example.com`;
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: print(RegisterDocument), variables: { input: { email, password: PASSWORD } } }),
  });
  const json = (await response.json()) as { data?: { register: { accessToken: string } }; errors?: unknown };
  if (!json.data) throw new Error(`register failed: ${JSON.stringify(json.errors)}`);
  return { email, accessToken: json.data.register.accessToken };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const spread = (values: number[], digits = 0) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

async function throughput(redis: TestRedis, servers: Server[]): Promise<void> {
  const quiet = { stdout: "discard" } as const;
  const reference = await spawnScript("bench/reference-server.js", {});
  const tutorial = await spawnScript("bench/tutorial-server.js", { REDIS_URL: redis.url, JWT_SECRET: TEST_SECRET });
  const onRedis = await spawnApi(redis.url, {}, quiet);
  const inMemory = await spawnApi(null, {}, quiet);
  const workers = await spawnApi(redis.url, { WORKERS: "2" }, quiet);
  servers.push(reference, tutorial, onRedis, inMemory, workers);

  const tutorialToken = jwt.sign({ sub: "bench-user", email: "bench@example.com" }, TEST_SECRET, { expiresIn: 3600 });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const targets: Target[] = [
    { row: "a", label: "bare Apollo standalone + type-graphql, fixed user", url: reference.url, body: ME, headers: {} },
    { row: "b", label: "tutorial: jsonwebtoken string secret + Redis GET", url: tutorial.url, body: ME, headers: bearer(tutorialToken) },
    { row: "c", label: "this API, anonymous `{ __typename }`", url: onRedis.url, body: JSON.stringify({ query: "{ __typename }" }), headers: {} },
    { row: "d", label: "this API, bearer + Redis", url: onRedis.url, body: ME, headers: bearer((await registerUser(onRedis.url)).accessToken) },
    { row: "e", label: "this API, bearer + embedded store", url: inMemory.url, body: ME, headers: bearer((await registerUser(inMemory.url)).accessToken) },
    { row: "f", label: "this API, WORKERS=2, bearer + Redis", url: workers.url, body: ME, headers: bearer((await registerUser(workers.url)).accessToken) },
  ].filter((target) => ROWS === null || ROWS.has(target.row));

  process.stderr.write(`warm-up: ${WARMUP_SECONDS} s each\n`);
  for (const target of targets) await load(target, WARMUP_SECONDS);
  const samples = new Map<string, Sample[]>(targets.map((target) => [target.row, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    process.stderr.write(`round ${round}/${ROUNDS}\n`);
    for (const target of targets) samples.get(target.row)!.push(await load(target, SECONDS));
  }

  const rps = (row: string) => median(samples.get(row)?.map((sample) => sample.rps) ?? [Number.NaN]);
  const ratio = (row: string, to: string) => (samples.has(to) ? (rps(row) / rps(to)).toFixed(2) : "–");
  console.log(`\n### Throughput: ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${SECONDS} s, medians (min–max)\n`);
  console.log("| row | server | req/s | p50 ms | p99 ms | × (a) | × (b) |");
  console.log("|---|---|---|---|---|---|---|");
  for (const target of targets) {
    const list = samples.get(target.row)!;
    console.log(
      `| ${target.row} | ${target.label} | ${spread(list.map((s) => s.rps))} | ${spread(list.map((s) => s.p50), 1)} | ${spread(list.map((s) => s.p99), 1)} | ${ratio(target.row, "a")} | ${ratio(target.row, "b")} |`,
    );
  }
}

/** Redis bytes per session and per revoked access token: INFO memory around MEMORY_ENTRIES of each. */
async function redisMemory(): Promise<void> {
  const redis = await startRedis();
  const store = await connectRedisStore({ redis: singleNode(redis.url), timeoutMs: 5_000, connectWithinMs: 5_000, logger: pino({ level: "silent" }) });
  try {
    const used = async () => Number(/used_memory:(\d+)/.exec(await redis.client.info("memory"))![1]);
    const now = Date.now();
    const users = Array.from({ length: MEMORY_ENTRIES }, (_, i) => ({ id: randomId(), sessionId: randomId(), i }));
    // A realistic argon2id hash length, so the users' own keys look like production's (they are not counted).
    const hash = `$argon2id$v=19$m=19456,t=2,p=1$${"s".repeat(22)}$${"h".repeat(43)}`;
    const inBatches = async (work: (user: (typeof users)[number]) => Promise<unknown>) => {
      for (let i = 0; i < users.length; i += 200) await Promise.all(users.slice(i, i + 200).map(work));
    };
    await inBatches((user) => store.createUser({ id: user.id, email: `m${user.i}@example.com`, roles: ["USER"], createdAt: now, disabled: false }, hash));
    const before = await used();
    await inBatches((user) => store.createSession({ id: user.sessionId, userId: user.id, device: "laptop", expiresAt: now + 7 * 86_400_000, refreshJti: randomId() }));
    const withSessions = await used();
    await inBatches((user) => store.endSession(user.id, user.sessionId, { jti: randomId(), expiresAt: now + 900_000 }));
    const withRevocations = await used();
    console.log(`\n### Redis memory (INFO used_memory, ${MEMORY_ENTRIES} of each, one session per user)\n`);
    console.log("| entry | bytes each | keys |");
    console.log("|---|---|---|");
    console.log(`| session | ${((withSessions - before) / MEMORY_ENTRIES).toFixed(0)} | \`auth:{u:<id>}:session:<sid>\` hash + member of \`auth:{u:<id>}:sessions\` |`);
    console.log(`| revoked access token (session ended) | ${((withRevocations - before) / MEMORY_ENTRIES).toFixed(0)} | \`auth:{u:<id>}:revoked:<jti>\` with a TTL to the token's expiry |`);
  } finally {
    await store.close();
    await redis.destroy();
  }
}

/** The p99 of `me` alone, then while CONCURRENT_LOGINS logins run at once, on the bearer + Redis server. */
async function meDuringLogins(redis: TestRedis, servers: Server[]): Promise<void> {
  const api = await spawnApi(redis.url, {}, { stdout: "discard" });
  servers.push(api);
  const user = await registerUser(api.url);
  // Another account logs in: each login starts a session, and past MAX_SESSIONS_PER_USER the
  // oldest one ends, which would end the session `me` is measured with.
  const loginUser = await registerUser(api.url);
  const me = { url: api.url, body: ME, headers: { authorization: `Bearer ${user.accessToken}` } };
  const loginBody = JSON.stringify({ query: print(LoginDocument), variables: { input: { email: loginUser.email, password: PASSWORD } } });
  const connections = 8;
  await load(me, WARMUP_SECONDS, connections);
  const alone = await load(me, SECONDS, connections);
  const [during, logins] = await Promise.all([load(me, SECONDS, connections), load({ url: api.url, body: loginBody, headers: {} }, SECONDS, CONCURRENT_LOGINS)]);
  const pool = loadConfig({ REDIS_URL: redis.url }).threadPoolSize;
  console.log(`\n### \`me\` while ${CONCURRENT_LOGINS} logins run at once (bearer + Redis, ${connections} connections on \`me\`, libuv pool ${pool})\n`);
  console.log("| load | me req/s | me p50 ms | me p99 ms | logins/s | login p99 ms |");
  console.log("|---|---|---|---|---|---|");
  console.log(`| me alone | ${alone.rps.toFixed(0)} | ${alone.p50} | ${alone.p99} | – | – |`);
  console.log(`| me + ${CONCURRENT_LOGINS} concurrent logins | ${during.rps.toFixed(0)} | ${during.p50} | ${during.p99} | ${logins.rps.toFixed(1)} | ${logins.p99} |`);
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? "unknown"}), autocannon in the bench process`);
  const redis = await startRedis();
  const servers: Server[] = [];
  try {
    if (process.env.BENCH_ONLY === "live") {
      await liveRevocationLatency(redis, servers, LIVE_SOCKETS, LIVE_LOGOUTS);
      await liveMemory(redis, servers, LIVE_IDLE_SOCKETS);
      return;
    }
    await throughput(redis, servers);
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    if (ROWS !== null) return;
    await redisMemory();
    await meDuringLogins(redis, servers);
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    await liveRevocationLatency(redis, servers, LIVE_SOCKETS, LIVE_LOGOUTS);
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    await liveMemory(redis, servers, LIVE_IDLE_SOCKETS);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await redis.destroy();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
