/**
 * `npm run capacity`: measures the constants docs/capacity.md builds on, on this machine.
 *   1. Redis bytes per user, per session and per revoked access token (INFO memory deltas).
 *   2. Redis commands per authenticated request, login, refresh and logout (INFO commandstats deltas).
 *   3. Requests per second one API process (one core) serves for an authenticated query.
 *   4. MGETs of four keys per second one Redis shard serves (redis-benchmark).
 * Short on purpose (a few seconds each); asserts nothing. Runs the built server (dist/).
 */
import "reflect-metadata";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import autocannon from "autocannon";
import pino from "pino";
import { print } from "graphql";
import { LoginDocument, LogoutDocument, MeDocument, RefreshDocument, RegisterDocument } from "../schema/generated/graphql";
import { keys } from "@revocable-auth/verifier/internal";
import { singleNode } from "../src/store/redis/connection";
import { connectRedisStore } from "../src/store/redis/redis-store";
import { spawnApi } from "../test/support/api";
import { startRedis, type TestRedis } from "../test/support/redis";

const SAMPLES = Number(process.env.CAPACITY_SAMPLES ?? 20_000);
const SECONDS = Number(process.env.CAPACITY_SECONDS ?? 3);
const CONCURRENCY = 32;
/** The length of a real argon2id hash as Passwords stores it. */
const HASH = `$argon2id$v=19$m=19456,t=2,p=1$${"s".repeat(22)}$${"h".repeat(43)}`;
const HOUR = 3_600_000;
/** 22 characters, like the base64url of 16 random bytes the API uses for ids and jtis. */
const sessionId = (userId: string, n: number) => `${n}${userId.slice(0, 8)}`.padEnd(22, "x");

async function usedMemory(redis: TestRedis): Promise<number> {
  const info = await redis.client.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

async function commandCalls(redis: TestRedis): Promise<Map<string, number>> {
  const info = await redis.client.info("commandstats");
  return new Map([...info.matchAll(/cmdstat_(\S+?):calls=(\d+)/g)].map(([, name, calls]) => [name!, Number(calls)]));
}

async function memoryPerEntry(redis: TestRedis): Promise<void> {
  const store = await connectRedisStore({ redis: singleNode(redis.url), timeoutMs: 5000, connectWithinMs: 5000, logger: pino({ level: "silent" }) });
  const ids = Array.from({ length: SAMPLES }, (_, i) => `${i.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`);
  const measure = async (label: string, work: (id: string, i: number) => Promise<unknown>) => {
    const before = await usedMemory(redis);
    for (let i = 0; i < ids.length; i += 500) await Promise.all(ids.slice(i, i + 500).map((id, j) => work(id, i + j)));
    const bytes = ((await usedMemory(redis)) - before) / ids.length;
    console.log(`  ${label.padEnd(52)} ${bytes.toFixed(0).padStart(6)} bytes`);
  };
  console.log(`Redis memory, INFO used_memory delta over ${SAMPLES} entries`);
  await measure("per user (record, password hash, email, user list)", (id, i) =>
    store.createUser({ id, email: `person-${i}@example.com`, roles: ["USER"], createdAt: Date.now(), disabled: false }, HASH),
  );
  await measure("per session (first of its user: record + index)", (id) =>
    store.createSession({ id: sessionId(id, 1), userId: id, device: "Firefox on a laptop", expiresAt: Date.now() + 168 * HOUR, refreshJti: "j".repeat(22), assurance: { aal: "aal1", amr: ["pwd"] } }),
  );
  await measure("per further session of the same user", (id) =>
    store.createSession({ id: sessionId(id, 2), userId: id, device: "Firefox on a laptop", expiresAt: Date.now() + 168 * HOUR, refreshJti: "j".repeat(22), assurance: { aal: "aal1", amr: ["pwd"] } }),
  );
  await measure("per revoked access token (logout)", (id) => store.endSession(id, "none", { jti: sessionId(id, 3), expiresAt: Date.now() + HOUR / 4 }));
  const directory = Number(await redis.client.call("MEMORY", "USAGE", keys.users())) / SAMPLES;
  const email = Number(await redis.client.call("MEMORY", "USAGE", keys.email("person-1@example.com")));
  console.log(`  ${"of which in the {directory} slot (email key + list entry)".padEnd(52)} ${(directory + email).toFixed(0).padStart(6)} bytes`);
  await auditMemory(redis, store);
  await store.close();
}

/** A typical audit event (a sign-in with a browser's user agent), MEMORY USAGE over a full stream. */
export async function auditMemory(redis: TestRedis, store: Awaited<ReturnType<typeof connectRedisStore>>): Promise<void> {
  const userId = "00000000-0000-4000-8000-00000000a0d1";
  const events = 1000;
  const retention = { maxAgeMs: 90 * 24 * HOUR, maxPerUser: 100_000, maxGlobal: 10_000_000 };
  for (let i = 0; i < events; i++) {
    await store.appendAuditEvent(
      {
        eventId: randomBytes(12).toString("base64url"),
        type: "SIGNED_IN",
        actorId: null,
        userId,
        sessionId: sessionId(userId, i),
        clientIp: "203.0.113.45",
        userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        device: "Firefox on a laptop",
        details: { via: "password" },
      },
      retention,
    );
  }
  const perUser = Number(await redis.client.call("MEMORY", "USAGE", keys.auditEvents(userId), "SAMPLES", "0")) / events;
  const global = Number(await redis.client.call("MEMORY", "USAGE", keys.auditAll(), "SAMPLES", "0")) / events;
  console.log(`  ${"per audit event, user's stream (MEMORY USAGE)".padEnd(52)} ${perUser.toFixed(0).padStart(6)} bytes`);
  console.log(`  ${"per audit event, global stream (MEMORY USAGE)".padEnd(52)} ${global.toFixed(0).padStart(6)} bytes`);
  // A failed login (no user agent) in a flooded user's attempts stream.
  const flooded = "00000000-0000-4000-8000-00000000a0d2";
  for (let i = 0; i < events; i++) {
    const failure = { eventId: randomBytes(12).toString("base64url"), type: "LOGIN_FAILED", actorId: null, userId: flooded, sessionId: null, clientIp: "203.0.113.45", userAgent: null, device: null, details: {} };
    await store.appendAuditEvent(failure, retention, "attempts");
  }
  const attempt = Number(await redis.client.call("MEMORY", "USAGE", keys.auditAttempts(flooded), "SAMPLES", "0")) / events;
  console.log(`  ${"per failed login, user's attempts stream".padEnd(52)} ${attempt.toFixed(0).padStart(6)} bytes`);
}

async function post(url: string, document: Parameters<typeof print>[0], variables: unknown, token?: string): Promise<any> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query: print(document), variables }) });
  return ((await response.json()) as { data: any }).data;
}

async function commandsPerOperation(redis: TestRedis, url: string): Promise<string> {
  const email = `capacity-${Date.now()}@example.com`;
  const password = "capacity password";
  const registered = (await post(url, RegisterDocument, { input: { email, password } })).register;
  const monitor = await redis.client.duplicate().monitor();
  let sent: string[] = [];
  // Commands a script runs show up with source "lua": those are no round trips of their own.
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    if (source !== "lua" && !["info", "monitor"].includes(args[0]!.toLowerCase())) sent.push(args[0]!.toLowerCase());
  });
  const per = async (label: string, times: number, work: () => Promise<unknown>) => {
    const before = await commandCalls(redis);
    sent = [];
    for (let i = 0; i < times; i++) await work();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = await commandCalls(redis);
    const executed = [...after].map(([name, calls]) => (calls - (before.get(name) ?? 0)) / times).reduce((a, b) => a + b, 0) - 1 / times;
    const counts = new Map<string, number>();
    for (const name of sent) counts.set(name, (counts.get(name) ?? 0) + 1 / times);
    const list = [...counts].map(([name, n]) => `${name} ${Number(n.toFixed(2))}`).join(", ");
    console.log(`  ${label.padEnd(28)} sent ${(sent.length / times).toFixed(1).padStart(4)} (${list}); executed with script bodies ${executed.toFixed(1)}`);
  };
  console.log("Redis commands per operation (MONITOR for what the API sends, INFO commandstats for all executed)");
  await per("authenticated request (me)", 20, () => post(url, MeDocument, {}, registered.accessToken));
  let current = (await post(url, LoginDocument, { input: { email, password } })).login;
  await per("login", 5, () => post(url, LoginDocument, { input: { email, password } }));
  await per("refresh", 5, async () => {
    current = (await post(url, RefreshDocument, { refreshToken: current.refreshToken })).refresh;
  });
  await per("logout", 1, () => post(url, LogoutDocument, {}, current.accessToken));
  const started = Date.now();
  for (let i = 0; i < 10; i++) await post(url, LoginDocument, { input: { email, password } });
  console.log(`  ${"login, one at a time".padEnd(28)} ${((Date.now() - started) / 10).toFixed(0)} ms each (argon2id verify dominates)`);
  await per("register", 3, () => post(url, RegisterDocument, { input: { email: `c-${Math.random()}@example.com`, password } }));
  monitor.disconnect();
  return registered.accessToken;
}

async function apiThroughput(url: string, token: string): Promise<void> {
  const result = await autocannon({
    url,
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(MeDocument) }),
    connections: CONCURRENCY,
    duration: SECONDS,
  });
  console.log(`API process (one core), authenticated me, ${CONCURRENCY} connections, ${SECONDS} s`);
  console.log(`  ${result.requests.average.toFixed(0)} req/s, p99 ${result.latency.p99} ms, ${result.non2xx + result.errors} failed`);
}

function shardThroughput(redis: TestRedis): void {
  const port = new URL(redis.url).port;
  const mget = ["MGET", keys.accessRecord("u"), keys.session("u", "s"), keys.cutoff("u"), keys.revokedAccessToken("u", "j")];
  console.log("One Redis shard (redis-server 7.0, one core), the per-request MGET of four keys");
  for (const pipeline of ["1", "16"]) {
    const out = execFileSync("redis-benchmark", ["-p", port, "-c", "50", "-n", "100000", "-P", pipeline, "--csv", ...mget], { encoding: "utf8" });
    const rps = Number(/"[^"]*","([\d.]+)"/.exec(out.split("\n").find((line) => line.includes("MGET")) ?? "")?.[1] ?? NaN);
    console.log(`  pipeline ${pipeline.padEnd(3)} ${rps.toFixed(0).padStart(8)} MGET/s`);
  }
}

async function main(): Promise<void> {
  console.log(`Measured ${new Date().toISOString()} on a shared machine; compare ratios, not absolutes.\n`);
  const redis = await startRedis();
  try {
    await memoryPerEntry(redis);
    console.log();
    const api = await spawnApi(redis.url, { LOG_LEVEL: "warn" });
    try {
      const token = await commandsPerOperation(redis, api.url);
      console.log();
      await apiThroughput(api.url, token);
    } finally {
      await api.stop();
    }
    console.log();
    shardThroughput(redis);
  } finally {
    await redis.destroy();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
