import {
  ConfirmTotpDocument,
  EnrollTotpDocument,
  LoginDocument,
  MeDocument,
  RefreshDocument,
  SessionsDocument,
  VerifyMfaDocument,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { PASSWORD, post, register, send } from "../support/client";
import { claimsOf } from "../support/keys";
import { closedWithin, openLive, refusedWith, type LiveClient } from "../support/live";
import { startRedis, type TestRedis } from "../support/redis";
import { stepAt, totpCode } from "../support/totp";

/**
 * A password alone must not harm a user who has a second factor on: the sessions it starts wait for
 * verifyMfa (pending), with their own lifetime and cap, outside MAX_SESSIONS_PER_USER, the history
 * and the per-user socket cap. Two instances on one real Redis: `api` with the default pending
 * limits, `short` with MFA_PENDING_TTL_SECONDS=2.
 */
let redis: TestRedis;
let api: TestApi;
let short: TestApi;
const open: LiveClient[] = [];
/** Small enough that a flood of 60 sign-ins would trim the history many times over. */
const KEPT = 10;
const MAX_SESSIONS = 3;

beforeAll(async () => {
  redis = await startRedis();
  // Fine-grained approximate trimming (XADD MAXLEN ~ trims whole stream nodes), so the history is
  // cut near AUDIT_MAX_EVENTS_PER_USER as a production stream of thousands is.
  await redis.client.config("SET", "stream-node-max-entries", "2");
  const env = { MAX_SESSIONS_PER_USER: String(MAX_SESSIONS), AUDIT_MAX_EVENTS_PER_USER: String(KEPT), MFA_MAX_FAILURES: "1000" };
  [api, short] = await Promise.all([startApi(redis.url, env), startApi(redis.url, { ...env, MFA_PENDING_TTL_SECONDS: "2" })]);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((live) => live.dispose()));
});
afterAll(async () => {
  await Promise.all([api?.stop(), short?.stop()]);
  await redis?.destroy();
});

const live = async (token: string) => {
  const client = await openLive(api.url, token);
  open.push(client);
  return client;
};

/** A user with TOTP on, through the API; their aal2 session and recovery codes. */
async function enrolled() {
  const user = await register(api.url, { device: "own laptop" });
  const secret = (await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: user.accessToken })).data!.enrollTotp.secret;
  const confirmed = await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, stepAt(Date.now())) }, { token: user.accessToken });
  if (!confirmed.data) throw new Error(JSON.stringify(confirmed.errors));
  const { auth, recoveryCodes } = confirmed.data.confirmTotp;
  return { email: user.user.email, userId: user.user.id, sessionId: auth.sessionId, accessToken: auth.accessToken, recoveryCodes: [...recoveryCodes] };
}

/** A password-only sign-in, as anyone who holds the password can make. */
async function passwordOnly(url: string, email: string, device = "attacker") {
  const result = await send(url, LoginDocument, { input: { email, password: PASSWORD, device } });
  const payload = result.data!.login;
  expect(payload.mfaRequired).toBe(true);
  return payload;
}

async function securityEvents(token: string) {
  // The trail is written without waiting for it.
  await new Promise((resolve) => setTimeout(resolve, 150));
  const page = await post<{ securityEvents: { nodes: { type: string; sessionId: string | null }[] } }>(
    api.url,
    { query: "{ securityEvents(first: 100) { nodes { type sessionId } } }" },
    { token },
  );
  return page.data!.securityEvents.nodes;
}

it("60 password-only sign-ins leave the verified session working, its socket open and its history readable", async () => {
  const victim = await enrolled();
  const socket = await live(victim.accessToken);
  for (let i = 0; i < 60; i++) await passwordOnly(api.url, victim.email);

  expect((await send(api.url, MeDocument, {}, { token: victim.accessToken })).status).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(socket.isClosed()).toBe(false);
  expect(await socket.me()).toBe(victim.userId);
  // Waiting sign-ins are not sessions: only the verified one is listed.
  const sessions = (await send(api.url, SessionsDocument, {}, { token: victim.accessToken })).data!.sessions;
  expect(sessions.map((session) => session.id)).toEqual([victim.sessionId]);

  const events = await securityEvents(victim.accessToken);
  const types = events.map((event) => event.type);
  expect(types).toEqual(expect.arrayContaining(["SIGNED_IN", "MFA_ENROLLED", "SIGN_IN_AWAITING_MFA"]));
  expect(events.filter((event) => event.type === "SIGNED_IN").map((event) => event.sessionId)).toHaveLength(1);
}, 120_000);

it("closes an aal1 socket of an enrolled user with 4403 MFA_REQUIRED, so no number of them evicts the verified socket", async () => {
  const victim = await enrolled();
  const socket = await live(victim.accessToken);
  // More than LIVE_MAX_CONNECTIONS_PER_USER (20), each opened while its session is still waiting.
  for (let i = 0; i < 25; i++) {
    const pending = await passwordOnly(api.url, victim.email);
    expect(await refusedWith(api.url, { authorization: `Bearer ${pending.accessToken}` })).toEqual({ code: 4403, reason: "MFA_REQUIRED" });
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(socket.isClosed()).toBe(false);
  expect(await socket.me()).toBe(victim.userId);
}, 120_000);

it("ends a waiting session after MFA_PENDING_TTL_SECONDS: its refresh token says so, and its tokens are refused", async () => {
  const victim = await enrolled();
  const pending = await passwordOnly(short.url, victim.email);
  const refresh = claimsOf(pending.refreshToken!) as { iat: number; exp: number };
  expect(refresh.exp - refresh.iat).toBe(2);
  expect((await send(short.url, MeDocument, {}, { token: pending.accessToken })).status).toBe(200);
  // A refresh does not lengthen it.
  const refreshed = (await send(short.url, RefreshDocument, { refreshToken: pending.refreshToken! })).data!.refresh;
  expect((claimsOf(refreshed.refreshToken!) as { exp: number }).exp).toBe(refresh.exp);

  await new Promise((resolve) => setTimeout(resolve, 2500));
  const me = await send(short.url, MeDocument, {}, { token: refreshed.accessToken });
  expect(me.status).toBe(401);
  expect(me.error?.reason).toBe("TOKEN_REVOKED");
  expect((await send(short.url, VerifyMfaDocument, { code: victim.recoveryCodes[0]! }, { token: refreshed.accessToken })).error?.reason).toBe("TOKEN_REVOKED");
  expect((await send(short.url, RefreshDocument, { refreshToken: refreshed.refreshToken! })).error?.reason).toBe("TOKEN_EXPIRED");
  // The verified session never noticed.
  expect((await send(api.url, MeDocument, {}, { token: victim.accessToken })).status).toBe(200);
}, 60_000);

it("makes a waiting session a full one at verifyMfa: it counts toward MAX_SESSIONS_PER_USER, and its sign-in reaches the history then", async () => {
  const victim = await enrolled();
  const socket = await live(victim.accessToken);
  const waiting = [];
  for (const device of ["phone", "tablet", "desk"]) waiting.push(await passwordOnly(api.url, victim.email, device));
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(socket.events).toEqual([]);
  expect((await send(api.url, SessionsDocument, {}, { token: victim.accessToken })).data!.sessions).toHaveLength(1);

  const verified = [];
  for (const [i, pending] of waiting.entries()) {
    const result = await send(api.url, VerifyMfaDocument, { code: victim.recoveryCodes[i]! }, { token: pending.accessToken });
    expect(result.data?.verifyMfa).toMatchObject({ sessionId: pending.sessionId, mfaRequired: false });
    verified.push(result.data!.verifyMfa);
  }
  // The third raised session is the fourth full one: the cap (3) ended the oldest, the enrolling session.
  expect(await closedWithin(socket, 2000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  expect((await send(api.url, MeDocument, {}, { token: victim.accessToken })).error?.reason).toBe("TOKEN_REVOKED");
  const newest = verified.at(-1)!;
  const sessions = (await send(api.url, SessionsDocument, {}, { token: newest.accessToken })).data!.sessions;
  expect(sessions.map((session) => session.id)).toEqual(waiting.map((pending) => pending.sessionId).reverse());
  // Other sockets hear SIGNED_IN when a sign-in completes, never at its password.
  expect(socket.events.filter((event) => event.type === "SIGNED_IN").map((event) => event.sessionId)).toEqual(
    expect.arrayContaining(waiting.slice(0, 2).map((pending) => pending.sessionId)),
  );

  const events = await securityEvents(newest.accessToken);
  for (const pending of waiting) {
    const about = events.filter((event) => event.sessionId === pending.sessionId).map((event) => event.type);
    expect(about).toEqual(expect.arrayContaining(["SIGN_IN_AWAITING_MFA", "MFA_VERIFIED", "SIGNED_IN"]));
  }
}, 60_000);
