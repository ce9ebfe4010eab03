/**
 * `npm run bench`: this API against the ceiling of its stack and against the tutorial way, measured
 * fairly on one machine in one run (issues 7 and 20):
 *   - every server in a process of its own, the load generator (autocannon) in this one;
 *   - a warm-up for each, then interleaved rounds (a b c d e f, a b c d e f, ...), so drift in the
 *     machine's load hits every row alike; medians with min–max over the rounds;
 *   - rows (n) and (m) on this API's own transport (scripts/bench/fastify-server.ts): no auth, and the
 *     least a revocation-aware request can do; (d)/(m) is the headline ratio;
 *   - Redis bytes per session and per revoked access token (INFO memory around N of each);
 *   - logins/s at the argon2id parameters in use, and the p99 of `me` while 20 logins run at once;
 *   - row (g): row (d) with OpenTelemetry tracing on (every trace kept), exporting to a local sink, and
 *     what that costs; row (h): the same at OTEL_TRACES_SAMPLER=parentbased_traceidratio, ARG 0.1.
 *   - row (k): row (d) with a DPoP-bound token and a fresh proof per request (target ≥ 0.75× (d)), and
 *     the proof's CPU cost per request; one Redis command each still (integration/round-trips counts them).
 *   - row (p): row (d) with DATABASE_URL, the directory in a real Postgres (issue 32, which calls it
 *     (h): that letter was taken): target ≥ 0.97× (d), p99 ≤ (d) + 1 ms. Still one Redis command and
 *     no SQL per request (integration/postgres-directory counts both). And logins/s with and without
 *     Postgres, in alternating runs (target ≥ 0.95×: argon2 dominates).
 *   - row (o): OAuth introspection (RFC 7662) of an active access token by the client it was issued
 *     to (client_secret_basic), on an API with OAUTH_PROVIDER on and the same Redis: target ≥ 0.5× (d)
 *     (issue 28); integration/oauth-introspection-cost counts its Redis commands.
 *   - fair hashing: a bystander's login p50 while one client IP keeps 50 logins in flight.
 * Prints Markdown tables; asserts nothing. Runs the built server (dist/).
 *
 * BENCH_SECONDS (per measurement, default 10), BENCH_ROUNDS (default 5), BENCH_WARMUP_SECONDS
 * (default 5), BENCH_CONNECTIONS (default 64), BENCH_MEMORY_ENTRIES (default 10000). BENCH_ROWS
 * (e.g. "d,e") measures only those throughput rows and skips the other sections, for a quick A/B.
 * BENCH_CPU_PROF=<dir> has the throughput rows' servers write CPU profiles (--cpu-prof) there.
 * BENCH_DPOP_ALG (ES256, RS256 or EdDSA; default ES256) is row (k)'s proof algorithm.
 * Live connections (bench-live.ts): BENCH_LIVE_SOCKETS (1000) open while BENCH_LIVE_LOGOUTS (200)
 * logouts are timed, BENCH_LIVE_IDLE_SOCKETS (10000) for memory; BENCH_ONLY=live runs just those.
 * BENCH_ONLY=fairness runs only the fair-hashing section, BENCH_ONLY=logins only the logins one,
 * BENCH_ONLY=postgres only the logins with and without Postgres (rows d and p: BENCH_ROWS=d,p).
 * Provider back-channel logout (bench-live.ts, issue 27): BENCH_LIVE_SOCKETS provider sessions' sockets
 * open on one instance while BENCH_LIVE_LOGOUTS logout tokens are posted to the other;
 * BENCH_ONLY=oidc runs just that.
 * Back-channel logout to OAuth clients (bench-backchannel.ts, issue 28): BENCH_BACKCHANNEL_LOGOUTS (200)
 * sign-outs timed to the relying party's receipt; BENCH_ONLY=backchannel runs just that.
 */
import "reflect-metadata";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, cpus } from "node:os";
import { resolve } from "node:path";
import autocannon from "autocannon";
import { print } from "graphql";
import jwt from "jsonwebtoken";
import pino from "pino";
import { LoginDocument, RegisterDocument } from "../schema/generated/graphql";
import { ARGON2_OPTIONS } from "../src/auth/accounts/passwords";
import { randomId } from "../src/auth/tokens/tokens";
import { loadConfig } from "../src/config";
import { singleNode } from "../src/store/redis/connection";
import { connectRedisStore } from "../src/store/redis/redis-store";
import { spawnApi, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, type SpawnOptions } from "../test/support/api";
import { openid } from "../src/auth/federation/openid";
import { dpopKey, proof } from "../test/support/dpop";
import { asymmetricEnv, newKey } from "../test/support/keys";
import { authorizeInBrowser, CookieJar } from "../test/support/oauth";
import { secretHash } from "../src/auth/oauth/clients";
import { startPostgres, type TestPostgres } from "../test/support/postgres";
import { freePort, startRedis, type TestRedis } from "../test/support/redis";
import { cpuSeconds } from "./bench/cpu";
import { liveMemory, liveRevocationLatency, providerLogoutLatency } from "./bench-live";
import { backchannelLatency } from "./bench-backchannel";

const SECONDS = fromEnv("BENCH_SECONDS", 10);
const ROUNDS = fromEnv("BENCH_ROUNDS", 5);
const WARMUP_SECONDS = fromEnv("BENCH_WARMUP_SECONDS", 5);
const CONNECTIONS = fromEnv("BENCH_CONNECTIONS", 64);
const MEMORY_ENTRIES = fromEnv("BENCH_MEMORY_ENTRIES", 10_000);
const LIVE_SOCKETS = fromEnv("BENCH_LIVE_SOCKETS", 1000);
const LIVE_LOGOUTS = fromEnv("BENCH_LIVE_LOGOUTS", 200);
const LIVE_IDLE_SOCKETS = fromEnv("BENCH_LIVE_IDLE_SOCKETS", 10_000);
const BACKCHANNEL_LOGOUTS = fromEnv("BENCH_BACKCHANNEL_LOGOUTS", 200);
const ROWS = process.env.BENCH_ROWS ? new Set(process.env.BENCH_ROWS.split(",").map((row) => row.trim())) : null;
/** BENCH_CPU_PROF=<dir>: every throughput row's server writes a V8 CPU profile there when it stops. */
const PROFILE: string[] = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${resolve(process.env.BENCH_CPU_PROF)}`] : [];
const CONCURRENT_LOGINS = 20;
const FLOOD_LOGINS = 50;
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
  /** The server's process, whose CPU per request is reported. */
  readonly pid?: number;
  /** Row (k): signs, before a run of `seconds`, what each request needs afresh (a DPoP proof); the headers of the next request. */
  readonly fresh?: (seconds: number) => Promise<() => Record<string, string>>;
}

interface Sample {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** The server's CPU time per request answered, in µs (its workers' included); NaN without /proc. */
  readonly cpuUs: number;
}

interface Server {
  readonly url: string;
  readonly pid?: number;
  stop(): Promise<unknown>;
}

/** Closed-loop load: CONNECTIONS keep-alive connections for `seconds`. Any non-2xx answer aborts the run. */
async function load(target: Pick<Target, "url" | "body" | "headers" | "pid" | "fresh">, seconds: number, connections = CONNECTIONS): Promise<Sample> {
  // Signed before the server's CPU is read, so the row counts only the server's work.
  const next = target.fresh ? await target.fresh(seconds) : null;
  const cpuBefore = target.pid === undefined ? null : cpuSeconds(target.pid);
  const result = await autocannon({
    url: target.url,
    method: "POST",
    headers: { "content-type": "application/json", ...target.headers },
    body: target.body,
    connections,
    duration: seconds,
    ...(next ? { requests: [{ setupRequest: (request: autocannon.Request) => ({ ...request, headers: { ...request.headers, ...next() } }) }] } : {}),
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${target.url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  const cpuAfter = target.pid === undefined ? null : cpuSeconds(target.pid);
  const cpuUs = cpuBefore === null || cpuAfter === null ? Number.NaN : ((cpuAfter - cpuBefore) * 1e6) / result.requests.total;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, cpuUs };
}

/** One of the bench's own servers (scripts/bench/*.ts, built to dist-scripts) in a process of its own. */
async function spawnScript(file: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [...PROFILE, resolve(__dirname, file)], {
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
  return { url, pid: child.pid, stop: () => new Promise((r) => (child.exitCode !== null ? r(null) : (child.once("exit", r), child.kill("SIGTERM")))) };
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

/** BENCH_DPOP_ALG: row (k)'s proof algorithm. ES256 (the client package's) by default; the signature is most of a proof's cost, and differs by algorithm. */
const DPOP_ALG = (["ES256", "RS256", "EdDSA"] as const).find((alg) => alg === process.env.BENCH_DPOP_ALG) ?? "ES256";

/** Proofs signed ahead per second of a run of row (k): more than (k) answers on the machines we measure on (a quiet 2-core one answered over 6000/s). */
const PROOFS_PER_SECOND = fromEnv("BENCH_PROOFS_PER_SECOND", 12000);

/**
 * Row (k): row (d)'s request with a DPoP-bound token (a sign-in with a proof) and a fresh proof,
 * signed with jose, on every request; each run gets proofs signed just before it, so their iat is fresh.
 */
async function dpopTarget(url: string, pid: number | undefined): Promise<Target> {
  const { email } = await registerUser(url);
  const key = await dpopKey(DPOP_ALG);
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", dpop: await proof(key, { htu: url }) },
    body: JSON.stringify({ query: print(LoginDocument), variables: { input: { email, password: PASSWORD } } }),
  });
  const json = (await response.json()) as { data?: { login: { accessToken: string; tokenType: string } }; errors?: unknown };
  if (json.data?.login.tokenType !== "DPoP") throw new Error(`bound login failed: ${JSON.stringify(json.errors)}`);
  const token = json.data.login.accessToken;
  const fresh = async (seconds: number) => {
    const proofs = await Promise.all(Array.from({ length: Math.ceil(PROOFS_PER_SECOND * seconds) }, () => proof(key, { htu: url, accessToken: token })));
    let used = 0;
    return () => {
      if (used === proofs.length) throw new Error("row (k) ran out of proofs: raise BENCH_PROOFS_PER_SECOND");
      return { dpop: proofs[used++]! };
    };
  };
  return { row: "k", label: `this API, DPoP-bound token + a fresh ${DPOP_ALG} proof per request + Redis`, url, pid, body: ME, headers: { authorization: `DPoP ${token}` }, fresh };
}

const OAUTH_CLIENT = "bench-app";
const OAUTH_SECRET = "a-bench-client-secret-long-and-random-0123456789";
const OAUTH_CALLBACK = "http://127.0.0.1:9/callback";

/** Row (o)'s server: the API with its OAuth provider on, its issuer its own origin. */
async function spawnProvider(redisUrl: string, options: SpawnOptions) {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const api = await spawnApi(redisUrl, { ...asymmetricEnv([newKey("ES256")]), OAUTH_PROVIDER: "on", OAUTH_ISSUER: issuer }, { ...options, port });
  return { ...api, issuer };
}

/**
 * Row (o): POST /oauth/introspect of an active access token by its client (client_secret_basic).
 * The token comes from a code + PKCE sign-in played over HTTP with openid-client, as the tests do.
 */
async function introspectionTarget(redisUrl: string, provider: Awaited<ReturnType<typeof spawnProvider>>): Promise<Target> {
  const store = await connectRedisStore({ redis: singleNode(redisUrl), timeoutMs: 5_000, connectWithinMs: 5_000, logger: pino({ level: "silent" }) });
  try {
    await store.createOAuthClient({
      clientId: OAUTH_CLIENT, name: "Bench app", redirectUris: [OAUTH_CALLBACK], grantTypes: ["authorization_code"], scopes: ["openid", "api"],
      public: false, backchannelLogoutUri: null, requireMfa: false, secretHash: secretHash(OAUTH_SECRET), createdAt: Date.now(),
    });
  } finally {
    await store.close();
  }
  const { email } = await registerUser(provider.url);
  const config = await openid.discovery(new URL(provider.issuer), OAUTH_CLIENT, undefined, openid.ClientSecretBasic(OAUTH_SECRET), { execute: [openid.allowInsecureRequests] });
  const verifier = openid.randomPKCECodeVerifier();
  const state = openid.randomState();
  const url = openid.buildAuthorizationUrl(config, { redirect_uri: OAUTH_CALLBACK, scope: "openid api", code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state });
  const callback = await authorizeInBrowser(new CookieJar(), url.href, email, PASSWORD, OAUTH_CALLBACK);
  const tokens = await openid.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
  const target = `${provider.issuer}/oauth/introspect`;
  const body = new URLSearchParams({ token: tokens.access_token, token_type_hint: "access_token" }).toString();
  const headers = { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${OAUTH_CLIENT}:${OAUTH_SECRET}`).toString("base64")}` };
  const answer = (await (await fetch(target, { method: "POST", headers, body })).json()) as { active?: boolean };
  if (answer.active !== true) throw new Error(`row (o): the token does not introspect active: ${JSON.stringify(answer)}`);
  return { row: "o", label: "OAuth introspection of an active access token (client_secret_basic) + Redis", url: target, pid: provider.process.pid, body, headers };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const spread = (values: number[], digits = 0) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

/** A real Postgres (initdb into a temporary directory) with one empty database for the API. */
async function directoryDatabase(servers: Server[]): Promise<string> {
  const postgres: TestPostgres = await startPostgres();
  servers.push({ url: postgres.url, stop: () => postgres.destroy() });
  return postgres.createDatabase("bench");
}

async function throughput(redis: TestRedis, servers: Server[]): Promise<void> {
  const quiet = { stdout: "discard", nodeArgs: PROFILE } as const;
  const wanted = (row: string) => ROWS === null || ROWS.has(row);
  // Row (p): on the same Redis as (d), the directory in Postgres (migrated at its start, MIGRATE=on).
  const onPostgres = wanted("p") ? await spawnApi(redis.url, { DATABASE_URL: await directoryDatabase(servers) }, quiet) : null;
  if (onPostgres) servers.push(onPostgres);
  const provider = wanted("o") ? await spawnProvider(redis.url, quiet) : null;
  if (provider) servers.push(provider);
  const reference = await spawnScript("bench/reference-server.js", {});
  const onFastify = await spawnScript("bench/fastify-server.js", { AUTH: "none" });
  const minimal = await spawnScript("bench/fastify-server.js", { AUTH: "minimal", REDIS_URL: redis.url, JWT_SECRET: TEST_SECRET, JWT_ISSUER: TEST_ISSUER, JWT_AUDIENCE: TEST_AUDIENCE });
  const tutorial = await spawnScript("bench/tutorial-server.js", { REDIS_URL: redis.url, JWT_SECRET: TEST_SECRET });
  const onRedis = await spawnApi(redis.url, {}, quiet);
  const inMemory = await spawnApi(null, {}, quiet);
  const workers = await spawnApi(redis.url, { WORKERS: "2" }, quiet);
  const sink = await otlpSink();
  const traced = await spawnApi(redis.url, { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url }, quiet);
  const sampled = await spawnApi(redis.url, { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" }, quiet);
  servers.push(reference, onFastify, minimal, tutorial, onRedis, inMemory, workers, traced, sampled, sink);

  const tutorialToken = jwt.sign({ sub: "bench-user", email: "bench@example.com" }, TEST_SECRET, { expiresIn: 3600 });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  // Rows (d) and (m) check the same token against the same Redis.
  const apiToken = (await registerUser(onRedis.url)).accessToken;
  const targets: Target[] = [
    { row: "a", label: "bare Apollo standalone + type-graphql, fixed user", url: reference.url, pid: reference.pid, body: ME, headers: {} },
    { row: "n", label: "bare Apollo on fastify + type-graphql, fixed user", url: onFastify.url, pid: onFastify.pid, body: ME, headers: {} },
    { row: "m", label: "minimal check on fastify: jsonwebtoken.verify (KeyObject) + one MGET of two keys", url: minimal.url, pid: minimal.pid, body: ME, headers: bearer(apiToken) },
    { row: "b", label: "tutorial: jsonwebtoken string secret + Redis GET", url: tutorial.url, pid: tutorial.pid, body: ME, headers: bearer(tutorialToken) },
    { row: "c", label: "this API, anonymous `{ __typename }`", url: onRedis.url, pid: onRedis.process.pid, body: JSON.stringify({ query: "{ __typename }" }), headers: {} },
    { row: "d", label: "this API, bearer + Redis", url: onRedis.url, pid: onRedis.process.pid, body: ME, headers: bearer(apiToken) },
    { row: "e", label: "this API, bearer + embedded store", url: inMemory.url, pid: inMemory.process.pid, body: ME, headers: bearer((await registerUser(inMemory.url)).accessToken) },
    { row: "f", label: "this API, WORKERS=2, bearer + Redis", url: workers.url, pid: workers.process.pid, body: ME, headers: bearer((await registerUser(workers.url)).accessToken) },
    { row: "g", label: "(d) with OpenTelemetry tracing on, every trace kept (OTLP to a local sink)", url: traced.url, pid: traced.process.pid, body: ME, headers: bearer((await registerUser(traced.url)).accessToken) },
    { row: "h", label: "(g) keeping 1 trace in 10 (`parentbased_traceidratio`, 0.1)", url: sampled.url, pid: sampled.process.pid, body: ME, headers: bearer((await registerUser(sampled.url)).accessToken) },
    await dpopTarget(onRedis.url, onRedis.process.pid),
    ...(onPostgres
      ? [{ row: "p", label: "(d) with DATABASE_URL: the directory in Postgres, the same Redis", url: onPostgres.url, pid: onPostgres.process.pid, body: ME, headers: bearer((await registerUser(onPostgres.url)).accessToken) }]
      : []),
    ...(provider ? [await introspectionTarget(redis.url, provider)] : []),
  ].filter((target) => wanted(target.row));

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
  console.log("| row | server | req/s | p50 ms | p99 ms | CPU µs/req | × (m) | × (a) | × (b) |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const target of targets) {
    const list = samples.get(target.row)!;
    console.log(
      `| ${target.row} | ${target.label} | ${spread(list.map((s) => s.rps))} | ${spread(list.map((s) => s.p50), 1)} | ${spread(list.map((s) => s.p99), 1)} | ${median(list.map((s) => s.cpuUs)).toFixed(0)} | ${ratio(target.row, "m")} | ${ratio(target.row, "a")} | ${ratio(target.row, "b")} |`,
    );
  }
  const p99 = (row: string) => median(samples.get(row)?.map((sample) => sample.p99) ?? [Number.NaN]);
  if (samples.has("d") && samples.has("m")) {
    console.log(`\nHeadline: (d) = ${ratio("d", "m")}× (m) (target ≥ 0.92); p99 (d) − p99 (m) = ${(p99("d") - p99("m")).toFixed(1)} ms (target ≤ 1).`);
  }
  if (samples.has("c") && samples.has("n")) console.log(`(c) = ${ratio("c", "n")}× (n) (target ≥ 1).`);
  if (samples.has("d") && samples.has("e")) console.log(`(e) = ${ratio("e", "d")}× (d) (target ≥ 1).`);
  const cost = (row: string) => `${((1 - rps(row) / rps("d")) * 100).toFixed(0)}%`;
  if (samples.has("d") && samples.has("g")) console.log(`\nTracing: (g) = ${ratio("g", "d")}× (d) (target ≥ 0.75), every trace kept costs ${cost("g")} of (d)'s throughput.`);
  if (samples.has("d") && samples.has("k")) console.log(`\nDPoP: (k) = ${ratio("k", "d")}× (d) (target ≥ 0.75); a proof costs the server ${(median(samples.get("k")!.map((s) => s.cpuUs)) - median(samples.get("d")!.map((s) => s.cpuUs))).toFixed(0)} µs of CPU per request more.`);
  if (samples.has("d") && samples.has("h")) console.log(`(h) = ${ratio("h", "d")}× (d): keeping 1 trace in 10 costs ${cost("h")}.`);
  if (samples.has("d") && samples.has("o")) console.log(`\nOAuth introspection: (o) = ${ratio("o", "d")}× (d) (target ≥ 0.5).`);
  if (samples.has("d") && samples.has("p")) {
    console.log(`\nPostgres: (p) = ${ratio("p", "d")}× (d) (target ≥ 0.97); p99 (p) − p99 (d) = ${(p99("p") - p99("d")).toFixed(1)} ms (target ≤ 1).`);
  }
}

/**
 * Logins/s with the directory in Postgres against without, on the same Redis: CONCURRENT_LOGINS
 * clients, each its own account and address, in ROUNDS alternating runs of SECONDS; medians.
 */
async function loginsWithPostgres(redis: TestRedis, servers: Server[]): Promise<void> {
  const env = { TRUST_PROXY: "1", REGISTER_MAX_PER_IP: "1000" };
  const without = await spawnApi(redis.url, env, { stdout: "discard" });
  const withPostgres = await spawnApi(redis.url, { ...env, DATABASE_URL: await directoryDatabase(servers) }, { stdout: "discard" });
  servers.push(without, withPostgres);
  const accounts = async (url: string) => {
    const emails: string[] = [];
    for (let i = 0; i < CONCURRENT_LOGINS; i++) emails.push((await registerUser(url)).email);
    return emails;
  };
  const runs = [
    { label: "without Postgres (directory in Redis)", url: without.url, emails: await accounts(without.url), samples: [] as { rps: number; p99: number }[] },
    { label: "with DATABASE_URL (directory in Postgres)", url: withPostgres.url, emails: await accounts(withPostgres.url), samples: [] as { rps: number; p99: number }[] },
  ];
  for (const run of runs) await concurrentLogins(run.url, run.emails, WARMUP_SECONDS);
  for (let round = 1; round <= ROUNDS; round++) {
    process.stderr.write(`logins round ${round}/${ROUNDS}\n`);
    for (const run of round % 2 ? runs : [...runs].reverse()) run.samples.push(await concurrentLogins(run.url, run.emails, SECONDS));
  }
  console.log(`\n### Logins with and without Postgres: ${CONCURRENT_LOGINS} clients at once, ${ROUNDS} alternating rounds of ${SECONDS} s, medians (min–max)\n`);
  console.log("| directory | logins/s | login p99 ms |");
  console.log("|---|---|---|");
  for (const run of runs) console.log(`| ${run.label} | ${spread(run.samples.map((s) => s.rps), 1)} | ${spread(run.samples.map((s) => s.p99))} |`);
  const [off, on] = runs.map((run) => median(run.samples.map((s) => s.rps))) as [number, number];
  console.log(`\nLogins with Postgres = ${(on / off).toFixed(2)}× without (target ≥ 0.95).`);
}

/**
 * A stand-in OTLP/HTTP collector: takes every export and answers 200 with an empty
 * ExportTraceServiceResponse in the encoding it came in, so the bench measures the API's side only.
 */
async function otlpSink(): Promise<Server> {
  const server = createServer((request, response) => {
    const protobuf = request.headers["content-type"]?.includes("protobuf") === true;
    request.resume();
    request.on("end", () => response.writeHead(200, { "content-type": protobuf ? "application/x-protobuf" : "application/json" }).end(protobuf ? "" : "{}"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
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
    await inBatches((user) => store.createSession({ id: user.sessionId, userId: user.id, device: "laptop", expiresAt: now + 7 * 86_400_000, refreshJti: randomId(), assurance: { aal: "aal1", amr: ["pwd"] } }));
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
  // Each login worker is its own client (an address of its own, one proxy trusted) with an account
  // of its own: 20 people signing in at once, not one client that the per-account and per-IP
  // limits would rightly slow down.
  const api = await spawnApi(redis.url, { TRUST_PROXY: "1", REGISTER_MAX_PER_IP: "1000" }, { stdout: "discard" });
  servers.push(api);
  const user = await registerUser(api.url);
  const accounts: string[] = [];
  for (let i = 0; i < CONCURRENT_LOGINS; i++) accounts.push((await registerUser(api.url)).email);
  const me = { url: api.url, body: ME, headers: { authorization: `Bearer ${user.accessToken}` } };
  const connections = 8;
  await load(me, WARMUP_SECONDS, connections);
  const alone = await load(me, SECONDS, connections);
  const loginsAlone = await concurrentLogins(api.url, accounts, SECONDS);
  const [during, logins] = await Promise.all([load(me, SECONDS, connections), concurrentLogins(api.url, accounts, SECONDS)]);
  const pool = loadConfig({ REDIS_URL: redis.url }).threadPoolSize;
  console.log(`\n### \`me\` while ${CONCURRENT_LOGINS} logins run at once (bearer + Redis, ${connections} connections on \`me\`, libuv pool ${pool})\n`);
  console.log("| load | me req/s | me p50 ms | me p99 ms | logins/s | login p99 ms |");
  console.log("|---|---|---|---|---|---|");
  console.log(`| me alone | ${alone.rps.toFixed(0)} | ${alone.p50} | ${alone.p99} | – | – |`);
  console.log(`| ${CONCURRENT_LOGINS} concurrent logins alone | – | – | – | ${loginsAlone.rps.toFixed(1)} | ${loginsAlone.p99.toFixed(0)} |`);
  console.log(`| me + ${CONCURRENT_LOGINS} concurrent logins | ${during.rps.toFixed(0)} | ${during.p50} | ${during.p99} | ${logins.rps.toFixed(1)} | ${logins.p99.toFixed(0)} |`);
  const { memoryCost, timeCost, parallelism } = ARGON2_OPTIONS;
  console.log(
    `\nLogins hash with argon2id m=${memoryCost} KiB (${(memoryCost / 1024).toFixed(0)} MiB), t=${timeCost}, p=${parallelism}: OWASP's minimums are m=19 MiB, t=2, p=1. ${loginsAlone.rps.toFixed(1)} logins/s on this machine, ${(loginsAlone.rps / pool).toFixed(1)} per libuv thread.`,
  );
}

/** `emails.length` clients logging in over and over, each its own account from its own address, for `seconds`. Any refusal aborts the run. */
async function concurrentLogins(url: string, emails: readonly string[], seconds: number): Promise<{ rps: number; p99: number }> {
  const until = performance.now() + seconds * 1000;
  const times: number[] = [];
  await Promise.all(
    emails.map(async (email, i) => {
      while (performance.now() < until) {
        const { ms, status } = await timedLogin(url, email, `198.51.100.${i + 1}`);
        if (status !== 200) throw new Error(`login answered ${status}`);
        times.push(ms);
      }
    }),
  );
  const sorted = times.sort((x, y) => x - y);
  return { rps: times.length / seconds, p99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]! };
}

/** One login's latency in ms, and its HTTP status, sent as from `ip` (the server trusts one proxy). */
async function timedLogin(url: string, email: string, ip: string): Promise<{ ms: number; status: number }> {
  const started = performance.now();
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": ip },
    body: JSON.stringify({ query: print(LoginDocument), variables: { input: { email, password: PASSWORD } } }),
  });
  await response.text();
  return { ms: performance.now() - started, status: response.status };
}

/**
 * Fair hashing (issue 21): a bystander logs in over and over, alone, then while one client IP keeps
 * FLOOD_LOGINS logins in flight over a few accounts of its own. The target is a bystander p50 of at
 * most 100 ms on a 2-core machine while the flood's logins still complete (some may get 429).
 */
async function loginFairness(redis: TestRedis, servers: Server[]): Promise<void> {
  const api = await spawnApi(redis.url, { TRUST_PROXY: "1", REGISTER_MAX_PER_IP: "1000" }, { stdout: "discard" });
  servers.push(api);
  const bystander = await registerUser(api.url);
  const accounts: string[] = [];
  for (let i = 0; i < 25; i++) accounts.push((await registerUser(api.url)).email);
  const bystanderLogins = async (until: number) => {
    const times: number[] = [];
    while (performance.now() < until) times.push((await timedLogin(api.url, bystander.email, "198.51.100.20")).ms);
    return times;
  };
  const alone = await bystanderLogins(performance.now() + SECONDS * 1000);
  const until = performance.now() + SECONDS * 1000;
  const flood = { ok: 0, throttled: 0, other: 0 };
  const attacker = async (worker: number) => {
    for (let i = worker; performance.now() < until; i += FLOOD_LOGINS) {
      const { status } = await timedLogin(api.url, accounts[i % accounts.length]!, "203.0.113.7");
      if (status === 200) flood.ok++;
      else if (status === 429) flood.throttled++;
      else flood.other++;
    }
  };
  const [during] = await Promise.all([bystanderLogins(until), ...Array.from({ length: FLOOD_LOGINS }, (_, worker) => attacker(worker))]);
  const pool = loadConfig({ REDIS_URL: redis.url }).threadPoolSize;
  console.log(`\n### Fair hashing: a bystander's login while one client IP keeps ${FLOOD_LOGINS} logins in flight (libuv pool ${pool}, HASH_MAX_IN_FLIGHT_PER_IP 2)\n`);
  console.log("| load | bystander logins | bystander p50 ms | bystander max ms | flood logins ok/s | flood 429 | flood other |");
  console.log("|---|---|---|---|---|---|---|");
  console.log(`| bystander alone | ${alone.length} | ${median(alone).toFixed(0)} | ${Math.max(...alone).toFixed(0)} | – | – | – |`);
  console.log(
    `| + ${FLOOD_LOGINS} logins from one IP | ${during.length} | ${median(during).toFixed(0)} | ${Math.max(...during).toFixed(0)} | ${(flood.ok / SECONDS).toFixed(1)} | ${flood.throttled} | ${flood.other} |`,
  );
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
    if (process.env.BENCH_ONLY === "oidc") return await providerLogoutLatency(redis, servers, LIVE_SOCKETS, LIVE_LOGOUTS);
    if (process.env.BENCH_ONLY === "backchannel") return await backchannelLatency(redis, servers, BACKCHANNEL_LOGOUTS);
    if (process.env.BENCH_ONLY === "fairness") return await loginFairness(redis, servers);
    if (process.env.BENCH_ONLY === "logins") return await meDuringLogins(redis, servers);
    if (process.env.BENCH_ONLY === "postgres") return await loginsWithPostgres(redis, servers);
    await throughput(redis, servers);
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    if (ROWS !== null) return;
    await redisMemory();
    await meDuringLogins(redis, servers);
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    await loginsWithPostgres(redis, servers);
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    await loginFairness(redis, servers);
    await liveRevocationLatency(redis, servers, LIVE_SOCKETS, LIVE_LOGOUTS);
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    await providerLogoutLatency(redis, servers, LIVE_SOCKETS, LIVE_LOGOUTS);
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    await liveMemory(redis, servers, LIVE_IDLE_SOCKETS);
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    await backchannelLatency(redis, servers, BACKCHANNEL_LOGOUTS);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await redis.destroy();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
