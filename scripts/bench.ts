/**
 * `npm run bench`: the speed claims, measured side by side in one run on this machine.
 *   1. jsonwebtoken.verify with a string secret vs. a KeyObject built once.
 *   2. The whole server: a trivial query with no token, with a token checked against Redis,
 *      and with a token checked against the embedded store.
 * Prints absolute numbers and the ratios; asserts nothing. Runs the built server (dist/).
 */
import "reflect-metadata";
import { createSecretKey } from "node:crypto";
import autocannon from "autocannon";
import jwt from "jsonwebtoken";
import { RegisterDocument } from "../schema/generated/graphql";
import { spawnApi, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, type ApiProcess } from "../test/support/api";
import { startRedis } from "../test/support/redis";
import { print } from "graphql";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

function perCall(label: string, iterations: number, fn: () => void): number {
  for (let i = 0; i < Math.min(iterations, 200); i++) fn();
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const micros = Number(process.hrtime.bigint() - started) / 1e3 / iterations;
  console.log(`  ${label.padEnd(44)} ${micros.toFixed(1).padStart(8)} µs/verify`);
  return micros;
}

function verifyBenchmark(): void {
  console.log("jsonwebtoken.verify (HS256)");
  const options = { algorithms: ["HS256" as const], issuer: TEST_ISSUER, audience: TEST_AUDIENCE };
  const token = jwt.sign({ sub: "u", sid: "s", roles: ["USER"] }, TEST_SECRET, { issuer: TEST_ISSUER, audience: TEST_AUDIENCE, algorithm: "HS256", expiresIn: 900 });
  const key = createSecretKey(Buffer.from(TEST_SECRET));
  const withString = perCall("string secret (parsed on every call)", 2_000, () => jwt.verify(token, TEST_SECRET, options));
  const withKey = perCall("KeyObject built once (what the server does)", 20_000, () => jwt.verify(token, key, options));
  console.log(`  ratio: the KeyObject is ${(withString / withKey).toFixed(1)}x faster\n`);
}

/** Closed-loop load with autocannon: CONCURRENCY keep-alive connections for SECONDS. */
async function load(url: string, token: string | null): Promise<number> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const result = await autocannon({
    url,
    method: "POST",
    headers,
    body: JSON.stringify({ query: "{ __typename }" }),
    connections: CONCURRENCY,
    duration: SECONDS,
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx + result.errors} requests failed`);
  return result.requests.average;
}

async function tokenFor(api: ApiProcess): Promise<string> {
  const response = await fetch(api.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: print(RegisterDocument), variables: { input: { email: `bench-${Date.now()}@example.com`, password: "bench password" } } }),
  });
  const json = (await response.json()) as { data: { register: { accessToken: string } } };
  return json.data.register.accessToken;
}

async function serverBenchmark(): Promise<void> {
  console.log(`Whole server: { __typename } over HTTP, ${CONCURRENCY} concurrent clients, ${SECONDS} s each`);
  // Servers in their own processes (built entry point), so the load generator does not share their thread.
  // Request logs are off (LOG_LEVEL=warn) so the numbers show the cost of auth, not of stdout.
  const redis = await startRedis();
  const onRedis = await spawnApi(redis.url, { LOG_LEVEL: "warn" });
  const inMemory = await spawnApi(null, { LOG_LEVEL: "warn" });
  try {
    const anonymous = await load(onRedis.url, null);
    const redisAuth = await load(onRedis.url, await tokenFor(onRedis));
    const memoryAuth = await load(inMemory.url, await tokenFor(inMemory));
    const row = (label: string, rps: number) =>
      console.log(`  ${label.padEnd(44)} ${rps.toFixed(0).padStart(8)} req/s   ${(rps / anonymous).toFixed(2)}x of no-token`);
    row("no token", anonymous);
    row("bearer token, revocation check in Redis", redisAuth);
    row("bearer token, revocation check in memory", memoryAuth);
  } finally {
    await onRedis.stop();
    await inMemory.stop();
    await redis.destroy();
  }
}

async function main(): Promise<void> {
  console.log(`node ${process.version}\n`);
  verifyBenchmark();
  await serverBenchmark();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
