import { Writable } from "node:stream";
import pino from "pino";
import {
  ConfirmTotpDocument,
  DisableTotpDocument,
  EnrollTotpDocument,
  LoginDocument,
  ResetUserMfaDocument,
  VerifyMfaDocument,
  RefreshDocument,
  RevokeUserSessionsDocument,
  SetUserDisabledDocument,
} from "../../schema/generated/graphql";
import { loadConfig } from "../../src/config";
import { startServer, type RunningServer } from "../../src/server";
import { testEnv } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";
import { testClock, totpCode } from "../support/totp";

let redis: TestRedis;
let api: RunningServer;
const lines: Record<string, unknown>[] = [];
const ADMIN_EMAIL = uniqueEmail("admin");
const clock = testClock();

beforeAll(async () => {
  redis = await startRedis();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line.startsWith("{")) lines.push(JSON.parse(line));
      done();
    },
  });
  const env = testEnv(redis.url, { ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, TRUST_PROXY: "1", LOGIN_MAX_FAILURES: "2", REFRESH_REUSE_GRACE_SECONDS: "0" });
  api = await startServer(loadConfig(env), { logger: pino({ level: "warn" }, sink), clock });
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

  it("logs and counts every second-factor event, with no secret and no code in any line", async () => {
    const user = await register(api.url);
    const secret = (await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: user.accessToken })).data!.enrollTotp.secret;
    const confirmed = (await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, clock.step()) }, { token: user.accessToken })).data!.confirmTotp;
    clock.advanceSteps(1);
    const session = await login(api.url, user.user.email);
    const right = totpCode(secret, clock.step());
    await send(api.url, VerifyMfaDocument, { code: right === "000000" ? "111111" : "000000" }, { token: session.accessToken, ...from("203.0.113.9") });
    await send(api.url, VerifyMfaDocument, { code: right }, { token: session.accessToken, ...from("203.0.113.9") });
    const another = await login(api.url, user.user.email);
    await send(api.url, VerifyMfaDocument, { code: confirmed.recoveryCodes[0]! }, { token: another.accessToken });
    clock.advanceSteps(1);
    await send(api.url, DisableTotpDocument, { code: totpCode(secret, clock.step()) }, { token: confirmed.auth.accessToken });
    const admin = await login(api.url, ADMIN_EMAIL);
    await send(api.url, ResetUserMfaDocument, { userId: user.user.id }, { token: admin.accessToken });

    const userId = user.user.id;
    expect(auditLines("mfa_enrolled").at(-1)).toMatchObject({ level: 40, userId, endedSessions: 0 });
    expect(auditLines("mfa_failed").at(-1)).toMatchObject({ userId, sessionId: session.sessionId, clientIp: "203.0.113.9", failures: 1 });
    expect(auditLines("mfa_verified").slice(-2)).toEqual([
      expect.objectContaining({ userId, sessionId: session.sessionId, method: "totp" }),
      expect.objectContaining({ userId, sessionId: another.sessionId, method: "recovery_code" }),
    ]);
    expect(auditLines("mfa_recovery_code_used").at(-1)).toMatchObject({ userId, remaining: 9 });
    expect(auditLines("mfa_disabled").at(-1)).toMatchObject({ userId, sessionId: confirmed.auth.sessionId });
    // The factor was already off: the admin reset changes nothing and logs nothing.
    expect(auditLines("mfa_reset").filter((line) => line.userId === userId)).toHaveLength(0);

    const text = await metrics();
    for (const event of ["enrolled", "failed", "verified", "recovery_code_used", "disabled"]) {
      expect(metricValue(text, `auth_mfa_events_total{event="${event}"}`)).toBeGreaterThanOrEqual(1);
    }
    const logged = JSON.stringify(lines);
    for (const leak of [secret, right, ...confirmed.recoveryCodes]) expect(logged).not.toContain(leak);
  });

  it("logs an admin's reset of a user's second factor", async () => {
    const user = await register(api.url);
    const secret = (await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: user.accessToken })).data!.enrollTotp.secret;
    await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, clock.step()) }, { token: user.accessToken });
    clock.advanceSteps(1);
    const admin = await login(api.url, ADMIN_EMAIL);
    await send(api.url, ResetUserMfaDocument, { userId: user.user.id }, { token: admin.accessToken });
    expect(auditLines("mfa_reset").at(-1)).toMatchObject({ level: 40, actorId: admin.user.id, userId: user.user.id, endedSessions: 1 });
  });
});
