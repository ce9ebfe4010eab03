/**
 * The live-connection rows of `npm run bench` (issue 15):
 *   - revocation-to-close latency at the client, from the logout's HTTP response to the close frame,
 *     the logout sent to the other of two instances on one Redis, with BENCH_LIVE_SOCKETS (1000)
 *     sockets open; a close that beats the response counts as 0;
 *   - the server's memory per idle authenticated socket: its RSS around BENCH_LIVE_IDLE_SOCKETS
 *     (10000) sockets opened.
 * Sessions are written straight to the store and their tokens signed with the server's own Tokens,
 * so setting up thousands of sockets costs no argon2.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import pino from "pino";
import WebSocket from "ws";
import { PASSWORD } from "../src/auth/tokens/assurance";
import { KeySet } from "../src/auth/tokens/signing-keys";
import { randomId, Tokens } from "../src/auth/tokens/tokens";
import { systemClock } from "../src/clock";
import { keyMaterial, loadConfig } from "../src/config";
import { singleNode } from "../src/store/redis/connection";
import { connectRedisStore } from "../src/store/redis/redis-store";
import { spawnApi, testEnv, type ApiProcess } from "../test/support/api";
import type { TestRedis } from "../test/support/redis";

interface LiveSession {
  readonly userId: string;
  readonly accessToken: string;
}

const SESSIONS_PER_USER = 10;

/** `count` live sessions in the store (SESSIONS_PER_USER per user), each with an access token the servers accept. */
async function sessionsIn(redis: TestRedis, count: number): Promise<LiveSession[]> {
  const config = loadConfig(testEnv(redis.url));
  const tokens = new Tokens({ ...config.jwt, keys: new KeySet(keyMaterial(config.jwt)), accessTokenTtl: config.accessTokenTtl, refreshTokenTtl: config.refreshTokenTtl }, systemClock);
  const store = await connectRedisStore({ redis: singleNode(redis.url), timeoutMs: 5_000, connectWithinMs: 5_000, logger: pino({ level: "silent" }) });
  const sessions: LiveSession[] = [];
  try {
    const now = Date.now();
    for (let u = 0; u * SESSIONS_PER_USER < count; u++) {
      const userId = randomId();
      await store.createUser({ id: userId, email: `live-${userId}@example.com`, roles: ["USER"], createdAt: now, disabled: false }, "not a real hash");
      await Promise.all(
        Array.from({ length: Math.min(SESSIONS_PER_USER, count - u * SESSIONS_PER_USER) }, async () => {
          const sessionId = randomId();
          await store.createSession({ id: sessionId, userId, device: "bench", expiresAt: now + 7_200_000, refreshJti: randomId(), assurance: PASSWORD });
          sessions.push({ userId, accessToken: tokens.issueAccess(userId, sessionId, ["USER"], PASSWORD).token });
        }),
      );
    }
  } finally {
    await store.close();
  }
  return sessions;
}

interface OpenSocket {
  readonly ws: WebSocket;
  /** Resolves with the time the close frame arrived. */
  readonly closedAt: Promise<number>;
}

/** A raw graphql-transport-ws connection, acknowledged. */
async function openSocket(httpUrl: string, token: string): Promise<OpenSocket> {
  const ws = new WebSocket(httpUrl.replace(/^http/, "ws"), "graphql-transport-ws");
  const closedAt = new Promise<number>((resolve) => ws.once("close", () => resolve(performance.now())));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
  const first = await new Promise<string>((resolve, reject) => {
    ws.once("message", (data) => resolve(String(data)));
    ws.once("close", (code) => reject(new Error(`closed ${code} before connection_ack`)));
  });
  if (!first.includes("connection_ack")) throw new Error(`expected connection_ack, got ${first}`);
  return { ws, closedAt };
}

async function openAll(url: string, sessions: readonly LiveSession[]): Promise<OpenSocket[]> {
  const sockets: OpenSocket[] = [];
  // In batches of LIVE_MAX_PENDING_PER_IP's default (50): every socket here comes from one address.
  for (let i = 0; i < sessions.length; i += 50) sockets.push(...(await Promise.all(sessions.slice(i, i + 50).map((s) => openSocket(url, s.accessToken)))));
  return sockets;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

/** Logs out `samples` sessions one after another on `b`; each one's socket is on `a`. */
export async function liveRevocationLatency(redis: TestRedis, servers: { stop(): Promise<unknown> }[], sockets: number, samples: number): Promise<void> {
  const env = { LIVE_MAX_CONNECTIONS_PER_USER: "10000" };
  const [a, b] = await Promise.all([spawnApi(redis.url, env, { stdout: "discard" }), spawnApi(redis.url, env, { stdout: "discard" })]);
  servers.push(a, b);
  const sessions = await sessionsIn(redis, sockets);
  const open = await openAll(a.url, sessions);
  const latencies: number[] = [];
  for (let i = 0; i < Math.min(samples, open.length); i++) {
    const response = await fetch(b.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${sessions[i]!.accessToken}` },
      body: '{"query":"mutation { logout }"}',
    });
    const answeredAt = performance.now();
    if (!response.ok) throw new Error(`logout answered ${response.status}`);
    latencies.push(Math.max(0, (await open[i]!.closedAt) - answeredAt));
  }
  console.log(`\n### Revocation to close (logout on the other instance, ${open.length} sockets open, ${latencies.length} logouts)\n`);
  console.log("| p50 ms | p99 ms | max ms |");
  console.log("|---|---|---|");
  console.log(`| ${percentile(latencies, 50).toFixed(2)} | ${percentile(latencies, 99).toFixed(2)} | ${Math.max(...latencies).toFixed(2)} |`);
  for (const socket of open) socket.ws.terminate();
}

const rssOf = (api: ApiProcess) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${api.process.pid}/status`, "utf8"))![1]) * 1024;

/** The server's RSS growth per idle authenticated socket. */
export async function liveMemory(redis: TestRedis, servers: { stop(): Promise<unknown> }[], sockets: number): Promise<void> {
  const api = await spawnApi(redis.url, { LIVE_MAX_CONNECTIONS_PER_USER: "10000" }, { stdout: "discard" });
  servers.push(api);
  const sessions = await sessionsIn(redis, sockets);
  // Warm the server up first, so start-up allocations are not counted.
  const warm = await openAll(api.url, sessions.slice(0, Math.min(100, sessions.length)));
  for (const socket of warm) socket.ws.close();
  await new Promise((r) => setTimeout(r, 1000));
  const before = rssOf(api);
  const open = await openAll(api.url, sessions);
  await new Promise((r) => setTimeout(r, 2000));
  const after = rssOf(api);
  console.log(`\n### Memory per idle authenticated socket (server RSS, ${open.length} sockets)\n`);
  console.log("| sockets | RSS before MB | RSS after MB | KB per socket |");
  console.log("|---|---|---|---|");
  console.log(`| ${open.length} | ${(before / 2 ** 20).toFixed(1)} | ${(after / 2 ** 20).toFixed(1)} | ${((after - before) / open.length / 1024).toFixed(1)} |`);
  for (const socket of open) socket.ws.terminate();
}

/** panva's oidc-provider in its own process (test/support/oidc-provider.mjs): the issuer that signs the logout tokens. */
async function startIssuer(): Promise<{ issuer: string; logoutToken(claims: Record<string, unknown>): Promise<string>; stop(): void }> {
  const options = { clients: [{ client_id: "api-corp", client_secret: "secret-of-corp-0123456789", redirect_uris: ["http://localhost/auth/oidc/corp/callback"] }], accounts: {} };
  const child = spawn(process.execPath, [resolve(process.cwd(), "test/support/oidc-provider.mjs"), JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((done) => createInterface({ input: child.stdout! }).once("line", done));
  const { issuer } = JSON.parse(line) as { issuer: string };
  return {
    issuer,
    async logoutToken(claims) {
      const response = await fetch(`${issuer}/__test/logout-token`, { method: "POST", body: JSON.stringify({ claims, header: {} }) });
      return ((await response.json()) as { token: string }).token;
    },
    stop: () => child.kill("SIGTERM"),
  };
}

/**
 * Issue 27's target: from the provider's back-channel logout POST (sent to instance b) to the close
 * frame of that provider session's socket on instance a, with `sockets` provider sessions' sockets
 * open. Each sample is one session with its own `sid`; the clock starts before the POST is sent,
 * so the logout token's verification (jose, against the provider's cached JWKS) is in the figure.
 */
export async function providerLogoutLatency(redis: TestRedis, servers: { stop(): Promise<unknown> }[], sockets: number, samples: number): Promise<void> {
  const issuer = await startIssuer();
  try {
    const env = { LIVE_MAX_CONNECTIONS_PER_USER: "10000", OIDC_PROVIDERS: "corp", OIDC_CORP_ISSUER: issuer.issuer, OIDC_CORP_CLIENT_ID: "api-corp", OIDC_CORP_CLIENT_SECRET: "secret-of-corp-0123456789" };
    const [a, b] = await Promise.all([spawnApi(redis.url, env, { stdout: "discard" }), spawnApi(redis.url, env, { stdout: "discard" })]);
    servers.push(a, b);
    const sessions = await providerSessionsIn(redis, sockets);
    const open = await openAll(a.url, sessions);
    const endpoint = `${b.url.replace(/\/graphql$/, "")}/auth/oidc/corp/backchannel-logout`;
    const events = { "http://schemas.openid.net/event/backchannel-logout": {} };
    // One logout first: b fetches the provider's JWKS once, as it would on its first logout in production.
    const latencies: number[] = [];
    for (let i = 0; i < Math.min(samples + 1, open.length); i++) {
      const token = await issuer.logoutToken({ iss: issuer.issuer, aud: "api-corp", iat: Math.floor(Date.now() / 1000), jti: randomId(), events, sid: sessions[i]!.sid });
      const sentAt = performance.now();
      const response = await fetch(endpoint, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ logout_token: token }) });
      if (!response.ok) throw new Error(`back-channel logout answered ${response.status}: ${await response.text()}`);
      const closedAt = await open[i]!.closedAt;
      if (i > 0) latencies.push(closedAt - sentAt);
    }
    console.log(`\n### Provider back-channel logout to close (POST to the other instance, ${open.length} sockets open, ${latencies.length} logouts)\n`);
    console.log("| p50 ms | p99 ms | max ms |");
    console.log("|---|---|---|");
    console.log(`| ${percentile(latencies, 50).toFixed(2)} | ${percentile(latencies, 99).toFixed(2)} | ${Math.max(...latencies).toFixed(2)} |`);
    for (const socket of open) socket.ws.terminate();
  } finally {
    issuer.stop();
  }
}

/** Like sessionsIn, each session from a provider sign-in with its own `sid`, indexed as Sessions.start indexes it. */
async function providerSessionsIn(redis: TestRedis, count: number): Promise<(LiveSession & { readonly sid: string })[]> {
  const config = loadConfig(testEnv(redis.url));
  const tokens = new Tokens({ ...config.jwt, keys: new KeySet(keyMaterial(config.jwt)), accessTokenTtl: config.accessTokenTtl, refreshTokenTtl: config.refreshTokenTtl }, systemClock);
  const store = await connectRedisStore({ redis: singleNode(redis.url), timeoutMs: 5_000, connectWithinMs: 5_000, logger: pino({ level: "silent" }) });
  const sessions: (LiveSession & { readonly sid: string })[] = [];
  try {
    const now = Date.now();
    for (let u = 0; u * SESSIONS_PER_USER < count; u++) {
      const userId = randomId();
      const subject = randomId();
      await store.createUser({ id: userId, email: `oidc-${userId}@example.com`, roles: ["USER"], createdAt: now, disabled: false }, "");
      await Promise.all(
        Array.from({ length: Math.min(SESSIONS_PER_USER, count - u * SESSIONS_PER_USER) }, async () => {
          const [sessionId, sid] = [randomId(), randomId()];
          const federation = { provider: "corp", subject, sid };
          const expiresAt = now + 7_200_000;
          await store.createSession({ id: sessionId, userId, device: "bench", expiresAt, refreshJti: randomId(), assurance: { aal: "aal1", amr: ["fed"] }, federation });
          await store.recordProviderSession({ ...federation, userId, sessionId }, expiresAt);
          sessions.push({ userId, sid, accessToken: tokens.issueAccess(userId, sessionId, ["USER"], { aal: "aal1", amr: ["fed"] }).token });
        }),
      );
    }
  } finally {
    await store.close();
  }
  return sessions;
}
