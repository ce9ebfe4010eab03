/**
 * The back-channel logout row of `npm run bench` (issue 28's target: delivered to a live relying
 * party within p99 ≤ 500 ms of the sign-out). Two API processes on one Redis with the OAuth provider
 * on; a relying party's receiver (a plain HTTP server in this process) registered as the
 * backchannel_logout_uri of a client. For each of BENCH_BACKCHANNEL_LOGOUTS (200) sessions, linked to
 * the client as a token issuance links it, `logout` is sent to the other instance than the one that
 * linked it; the latency is from the logout's HTTP response to the logout token's arrival (one that
 * beats the response counts as 0), and from the request's start too.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { PASSWORD } from "../src/auth/tokens/assurance";
import { KeySet } from "../src/auth/tokens/signing-keys";
import { randomId, Tokens } from "../src/auth/tokens/tokens";
import { systemClock } from "../src/clock";
import { keyMaterial, loadConfig } from "../src/config";
import { redisBackchannelLogout } from "../src/store/redis/backchannel-logout";
import { singleNode } from "../src/store/redis/connection";
import { connectRedisStore } from "../src/store/redis/redis-store";
import { spawnApi, testEnv } from "../test/support/api";
import { asymmetricEnv, newKey } from "../test/support/keys";
import type { TestRedis } from "../test/support/redis";

const CLIENT_ID = "bench-rp";

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

/** The `sid` of a form-posted logout token, read without verifying (the tests verify it; here only its arrival counts). */
async function sidOf(request: IncomingMessage): Promise<string | null> {
  let body = "";
  for await (const chunk of request) body += String(chunk);
  const token = new URLSearchParams(body).get("logout_token");
  if (!token) return null;
  return (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { sid?: string }).sid ?? null;
}

export async function backchannelLatency(redis: TestRedis, servers: { stop(): Promise<unknown> }[], samples: number): Promise<void> {
  const arrivals = new Map<string, (at: number) => void>();
  const receiver = createServer((request, response) => {
    void sidOf(request).then((sid) => {
      const at = performance.now();
      response.writeHead(200).end();
      if (sid) arrivals.get(sid)?.(at);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  servers.push({ stop: () => new Promise<void>((resolve) => receiver.close(() => resolve())) });
  const receiverUri = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/backchannel`;

  const env = { ...asymmetricEnv([newKey("ES256")]), OAUTH_PROVIDER: "on", OAUTH_ISSUER: "http://localhost:4000" };
  const [a, b] = await Promise.all([spawnApi(redis.url, env, { stdout: "discard" }), spawnApi(redis.url, env, { stdout: "discard" })]);
  servers.push(a, b);
  const config = loadConfig(testEnv(redis.url, env));
  const tokens = new Tokens({ ...config.jwt, keys: new KeySet(keyMaterial(config.jwt)), accessTokenTtl: config.accessTokenTtl, refreshTokenTtl: config.refreshTokenTtl }, systemClock);
  const store = await connectRedisStore({ redis: singleNode(redis.url), timeoutMs: 5_000, connectWithinMs: 5_000, logger: pino({ level: "silent" }) });
  const sessions: { sessionId: string; token: string }[] = [];
  try {
    await store.createOAuthClient({ clientId: CLIENT_ID, name: "Bench RP", redirectUris: ["http://127.0.0.1:9/cb"], grantTypes: ["authorization_code"], scopes: ["openid"], public: true, backchannelLogoutUri: receiverUri, requireMfa: false, secretHash: null, createdAt: Date.now() });
    const links = redisBackchannelLogout(store.core);
    const now = Date.now();
    for (let i = 0; i < samples; i++) {
      const userId = randomId();
      const sessionId = randomId();
      await store.createUser({ id: userId, email: `bcl-${userId}@example.com`, roles: ["USER"], createdAt: now, disabled: false }, "not a real hash");
      await store.createSession({ id: sessionId, userId, device: "bench", expiresAt: now + 7_200_000, refreshJti: randomId(), assurance: PASSWORD });
      await links.linkBackchannelSession(userId, sessionId, CLIENT_ID, now, 3_600_000);
      sessions.push({ sessionId, token: tokens.issueAccess(userId, sessionId, ["USER"], PASSWORD).token });
    }
  } finally {
    await store.close();
  }

  const fromResponse: number[] = [];
  const fromRequest: number[] = [];
  for (const [i, { sessionId, token }] of sessions.entries()) {
    const arrived = new Promise<number>((resolve) => arrivals.set(sessionId, resolve));
    const startedAt = performance.now();
    const response = await fetch(i % 2 === 0 ? b.url : a.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: '{"query":"mutation { logout }"}',
    });
    const answeredAt = performance.now();
    if (!response.ok) throw new Error(`logout answered ${response.status}`);
    const at = await Promise.race([arrived, new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`no logout token for ${sessionId} within 10 s`)), 10_000))]);
    fromResponse.push(Math.max(0, at - answeredAt));
    fromRequest.push(at - startedAt);
    arrivals.delete(sessionId);
  }
  console.log(`\n### Back-channel logout: sign-out to the relying party's receipt (${fromResponse.length} logouts, alternating instances; target p99 ≤ 500 ms)\n`);
  console.log("| measured from | p50 ms | p99 ms | max ms |");
  console.log("|---|---|---|---|");
  for (const [label, values] of [["the logout's response", fromResponse], ["the logout's request", fromRequest]] as const) {
    console.log(`| ${label} | ${percentile(values, 50).toFixed(2)} | ${percentile(values, 99).toFixed(2)} | ${Math.max(...values).toFixed(2)} |`);
  }
}
