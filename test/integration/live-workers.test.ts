import { LogoutAllDocument } from "../../schema/generated/graphql";
import { spawnApi, type ApiProcess } from "../support/api";
import { login, register, send } from "../support/client";
import { closedWithin, openLive, type LiveClient } from "../support/live";
import { startRedis, type TestRedis } from "../support/redis";

/**
 * WORKERS=2 in front, a second single-process instance behind the logout: node:cluster hands each
 * new socket to the next worker, so the user's sockets sit on both workers, and each worker's own
 * subscription must close its own. The close log lines name the worker that closed each socket.
 */
let redis: TestRedis;
let workers: ApiProcess;
let other: ApiProcess;
const open: LiveClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  [workers, other] = await Promise.all([spawnApi(redis.url, { WORKERS: "2" }), spawnApi(redis.url)]);
});
afterAll(async () => {
  await Promise.all(open.map((live) => live.dispose()));
  await Promise.all([workers?.stop(), other?.stop()]);
  await redis?.destroy();
});

it("closes a user's sockets on every worker when the user logs out everywhere on another instance, with one log line each", async () => {
  const first = await register(other.url);
  const sessions = [first];
  for (let i = 0; i < 3; i++) sessions.push(await login(other.url, first.user.email));
  for (const session of sessions) open.push(await openLive(workers.url, session.accessToken, { subscribe: false }));
  await send(other.url, LogoutAllDocument, {}, { token: first.accessToken });
  const closes = await Promise.all(open.map((live) => closedWithin(live, 3000)));
  expect(closes).toEqual(sessions.map(() => ({ code: 4401, reason: "TOKEN_REVOKED" })));
  await new Promise((r) => setTimeout(r, 200));
  const lines = workers
    .output()
    .split("\n")
    .filter((line) => line.includes("live connection closed: revoked"))
    .map((line) => JSON.parse(line) as { worker: number; userId: string; kind: string; code: number; latencyMs: number });
  expect(lines).toHaveLength(sessions.length);
  expect(lines.every((line) => line.userId === first.user.id && line.kind === "all_sessions" && line.code === 4401)).toBe(true);
  expect(new Set(lines.map((line) => line.worker)).size).toBe(2);
  expect(JSON.stringify(lines)).not.toContain(first.accessToken);
});
