import { Writable } from "node:stream";
import pino from "pino";
import {
  LoginDocument,
  RefreshDocument,
  RevokeUserSessionsDocument,
  SetUserDisabledDocument,
} from "../../schema/generated/graphql";
import { loadConfig } from "../../src/config";
import { startServer, type RunningServer } from "../../src/server";
import { testEnv } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

let redis: TestRedis;
let api: RunningServer;
const lines: Record<string, unknown>[] = [];
const ADMIN_EMAIL = uniqueEmail("admin");

beforeAll(async () => {
  redis = await startRedis();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line.startsWith("{")) lines.push(JSON.parse(line));
      done();
    },
  });
  const env = testEnv(redis.url, { ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, TRUST_PROXY: "1", LOGIN_MAX_FAILURES: "2", REFRESH_REUSE_GRACE_SECONDS: "0" });
  api = await startServer(loadConfig(env), { logger: pino({ level: "warn" }, sink) });
});
afterAll(async () => {
  await api.stop();
  await redis.destroy();
});

const auditLines = (kind: string) => lines.filter((line) => line.audit === kind);
const metrics = async () => (await fetch(api.url.replace(/graphql$/, "metrics"))).text();
const metricValue = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(" ")[1]) : 0;
};
const from = (ip: string) => ({ headers: { "x-forwarded-for": ip } });

describe("the audit trail", () => {
  it("logs a warn line and counts each failed login, with the user id when the email exists, never the email", async () => {
    const { user } = await register(api.url);
    const unknown = uniqueEmail("nobody");
    await send(api.url, LoginDocument, { input: { email: user.email, password: "wrong password!" } }, from("203.0.113.1"));
    await send(api.url, LoginDocument, { input: { email: unknown, password: "wrong password!" } }, from("203.0.113.1"));
    const failures = auditLines("login_failed");
    expect(failures.slice(-2)).toEqual([
      expect.objectContaining({ level: 40, userId: user.id, clientIp: "203.0.113.1" }),
      expect.objectContaining({ level: 40, userId: null, clientIp: "203.0.113.1" }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(user.email);
    expect(JSON.stringify(lines)).not.toContain(unknown);
    expect(JSON.stringify(lines)).not.toContain("wrong password!");
    expect(metricValue(await metrics(), "auth_login_failures_total")).toBeGreaterThanOrEqual(2);
  });

  it("logs and counts each throttling decision by reason", async () => {
    const { user } = await register(api.url);
    for (let i = 0; i < 3; i++) {
      await send(api.url, LoginDocument, { input: { email: user.email, password: "wrong password!" } }, from("203.0.113.2"));
    }
    expect(auditLines("throttled")).toContainEqual(expect.objectContaining({ level: 40, reason: "LOGIN_THROTTLED", scope: "pair", clientIp: "203.0.113.2" }));
    expect(metricValue(await metrics(), 'auth_throttled_total{reason="LOGIN_THROTTLED"}')).toBeGreaterThanOrEqual(1);
  });

  it("logs and counts each refresh-token reuse with the user and session id", async () => {
    const user = await register(api.url);
    await send(api.url, RefreshDocument, { refreshToken: user.refreshToken! });
    await send(api.url, RefreshDocument, { refreshToken: user.refreshToken! });
    expect(auditLines("refresh_reuse")).toContainEqual(expect.objectContaining({ level: 40, userId: user.user.id, sessionId: user.sessionId }));
    expect(metricValue(await metrics(), "auth_refresh_reuse_total")).toBe(1);
  });

  it("logs each admin action: who did what to whom", async () => {
    const admin = await login(api.url, ADMIN_EMAIL);
    const target = await register(api.url);
    await send(api.url, SetUserDisabledDocument, { userId: target.user.id, disabled: true }, { token: admin.accessToken });
    await send(api.url, RevokeUserSessionsDocument, { userId: target.user.id }, { token: admin.accessToken });
    expect(auditLines("admin_action").slice(-2)).toEqual([
      expect.objectContaining({ actorId: admin.user.id, action: "setUserDisabled", targetId: target.user.id, disabled: true }),
      expect.objectContaining({ actorId: admin.user.id, action: "revokeUserSessions", targetId: target.user.id }),
    ]);
  });
});
