import {
  ChangePasswordDocument,
  LogoutAllDocument,
  LogoutDocument,
  LogoutOthersDocument,
  RefreshDocument,
  RevokeSessionDocument,
  RevokeUserSessionsDocument,
  SetUserDisabledDocument,
  SetUserRolesDocument,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { acknowledged, closedWithin, openLive, refusedWith, type LiveClient } from "../support/live";
import { startRedis, type TestRedis } from "../support/redis";

/** Two instances on one Redis: every socket is opened on `a`, every revoking write is sent to `b`. */
let redis: TestRedis;
let a: TestApi;
let b: TestApi;
let admin: string;
const ROOT_EMAIL = uniqueEmail("root");
const open: LiveClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const env = { ADMIN_EMAIL: ROOT_EMAIL, ADMIN_PASSWORD: PASSWORD, MAX_SESSIONS_PER_USER: "3" };
  [a, b] = await Promise.all([startApi(redis.url, env), startApi(redis.url, env)]);
  admin = (await login(b.url, ROOT_EMAIL)).accessToken;
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((live) => live.dispose()));
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.destroy();
});

const live = async (token: string) => {
  const client = await openLive(a.url, token);
  open.push(client);
  return client;
};

/** A user with `devices` sessions, each with a socket on instance a. */
async function userWithSockets(devices = 2) {
  const email = uniqueEmail();
  const sessions = [await register(b.url, { email, device: "device-0" })];
  for (let i = 1; i < devices; i++) sessions.push(await login(b.url, email, PASSWORD, `device-${i}`));
  const sockets = await Promise.all(sessions.map((session) => live(session.accessToken)));
  return { email, sessions, sockets, userId: sessions[0]!.user.id };
}

/** Whether the socket is still open and served, a moment after the others closed. */
async function stillOpen(client: LiveClient, userId: string) {
  await new Promise((r) => setTimeout(r, 150));
  expect(client.isClosed()).toBe(false);
  expect(await client.me()).toBe(userId);
}

const REVOKED = { code: 4401, reason: "TOKEN_REVOKED" };
const WITHIN_MS = 2000;

describe("connecting", () => {
  it("acknowledges a valid token and serves queries and sessionEvents on ws://…/graphql", async () => {
    const user = await register(b.url);
    const client = await live(user.accessToken);
    expect(await client.me()).toBe(user.user.id);
  });

  it("closes with 4403 and the reason, without an ack, when the token is missing, malformed or forged", async () => {
    expect(await refusedWith(a.url, {})).toEqual({ code: 4403, reason: "AUTHENTICATION_REQUIRED" });
    expect(await refusedWith(a.url, { authorization: "Basic abc" })).toEqual({ code: 4403, reason: "INVALID_TOKEN" });
    const user = await register(b.url);
    const forged = user.accessToken.slice(0, -4) + "AAAA";
    expect(await refusedWith(a.url, { Authorization: `Bearer ${forged}` })).toEqual({ code: 4403, reason: "INVALID_TOKEN" });
  });

  it("reads the authorization key case-insensitively", async () => {
    const user = await register(b.url);
    expect(await acknowledged(a.url, { AUTHORIZATION: `Bearer ${user.accessToken}` })).toBe(true);
  });

  it("closes with 4401 TOKEN_REVOKED when the token was revoked, and 4401 for a disabled user", async () => {
    const user = await register(b.url);
    await send(b.url, LogoutDocument, {}, { token: user.accessToken });
    expect(await refusedWith(a.url, { authorization: `Bearer ${user.accessToken}` })).toEqual(REVOKED);
    const other = await register(b.url);
    await send(b.url, SetUserDisabledDocument, { userId: other.user.id, disabled: true }, { token: admin });
    expect(await refusedWith(a.url, { authorization: `Bearer ${other.accessToken}` })).toMatchObject({ code: 4401 });
  });
});

describe("closing on revocation, from the other instance", () => {
  it("logout closes that session's socket with 4401 and tells the user's other socket SESSION_ENDED, naming its device", async () => {
    const { sessions, sockets, userId } = await userWithSockets(2);
    await send(b.url, LogoutDocument, {}, { token: sessions[0]!.accessToken });
    expect(await closedWithin(sockets[0]!, WITHIN_MS)).toEqual(REVOKED);
    const [event] = await sockets[1]!.eventsAtLeast(1);
    expect(event).toMatchObject({ type: "SESSION_ENDED", sessionId: sessions[0]!.sessionId, device: "device-0", reason: "LOGOUT" });
    await stillOpen(sockets[1]!, userId);
  });

  it("revokeSession closes exactly the revoked session's socket; the others hear SESSION_ENDED with its device", async () => {
    const { sessions, sockets, userId } = await userWithSockets(2);
    await send(b.url, RevokeSessionDocument, { id: sessions[1]!.sessionId }, { token: sessions[0]!.accessToken });
    expect(await closedWithin(sockets[1]!, WITHIN_MS)).toEqual(REVOKED);
    expect((await sockets[0]!.eventsAtLeast(1))[0]).toMatchObject({ type: "SESSION_ENDED", sessionId: sessions[1]!.sessionId, device: "device-1", reason: "SESSION" });
    await stillOpen(sockets[0]!, userId);
  });

  it("logoutAll closes every socket of the user, and no one else's", async () => {
    const { sessions, sockets } = await userWithSockets(2);
    const bystander = await userWithSockets(1);
    await send(b.url, LogoutAllDocument, {}, { token: sessions[0]!.accessToken });
    expect(await Promise.all(sockets.map((socket) => closedWithin(socket, WITHIN_MS)))).toEqual([REVOKED, REVOKED]);
    await stillOpen(bystander.sockets[0]!, bystander.userId);
  });

  it("logoutOthers closes the other sessions' sockets and keeps the caller's, which hears SESSION_ENDED", async () => {
    const { sessions, sockets, userId } = await userWithSockets(3);
    await send(b.url, LogoutOthersDocument, {}, { token: sessions[2]!.accessToken });
    expect(await Promise.all(sockets.slice(0, 2).map((socket) => closedWithin(socket, WITHIN_MS)))).toEqual([REVOKED, REVOKED]);
    expect((await sockets[2]!.eventsAtLeast(1))[0]).toMatchObject({ type: "SESSION_ENDED", sessionId: null, reason: "OTHER_SESSIONS" });
    await stillOpen(sockets[2]!, userId);
  });

  it("changePassword closes the other sessions' sockets; the caller's hears PASSWORD_CHANGED", async () => {
    const { sessions, sockets, userId } = await userWithSockets(2);
    const changed = await send(b.url, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: "another correct horse" }, { token: sessions[1]!.accessToken });
    expect(changed.errors).toBeUndefined();
    expect(await closedWithin(sockets[0]!, WITHIN_MS)).toEqual(REVOKED);
    expect((await sockets[1]!.eventsAtLeast(1))[0]).toMatchObject({ type: "PASSWORD_CHANGED" });
    await stillOpen(sockets[1]!, userId);
  });

  it("disabling a user closes all their sockets with 4401 ACCOUNT_DISABLED", async () => {
    const { sockets, userId } = await userWithSockets(2);
    await send(b.url, SetUserDisabledDocument, { userId, disabled: true }, { token: admin });
    const closes = await Promise.all(sockets.map((socket) => closedWithin(socket, WITHIN_MS)));
    expect(closes).toEqual([{ code: 4401, reason: "ACCOUNT_DISABLED" }, { code: 4401, reason: "ACCOUNT_DISABLED" }]);
  });

  it("revokeUserSessions (admin) closes all the user's sockets", async () => {
    const { sockets, userId } = await userWithSockets(2);
    await send(b.url, RevokeUserSessionsDocument, { userId }, { token: admin });
    expect(await Promise.all(sockets.map((socket) => closedWithin(socket, WITHIN_MS)))).toEqual([REVOKED, REVOKED]);
  });

  it("setUserRoles tells every socket ROLES_CHANGED, then closes it with 4403 so the client reconnects with the new roles", async () => {
    const { sockets, userId } = await userWithSockets(2);
    await send(b.url, SetUserRolesDocument, { userId, roles: ["USER", "ADMIN"] }, { token: admin });
    for (const socket of sockets) {
      expect(await closedWithin(socket, WITHIN_MS)).toEqual({ code: 4403, reason: "ROLES_CHANGED" });
      expect(socket.events.map((event) => event.type)).toEqual(["ROLES_CHANGED"]);
    }
  });

  it("refresh-token reuse closes the session's socket", async () => {
    const { sessions, sockets, userId } = await userWithSockets(2);
    const rotated = await send(b.url, RefreshDocument, { refreshToken: sessions[0]!.refreshToken! });
    expect(rotated.errors).toBeUndefined();
    // The grace window hands the first rotation's outcome out again; a token two rotations back is reuse.
    await send(b.url, RefreshDocument, { refreshToken: rotated.data!.refresh.refreshToken! });
    const reused = await send(b.url, RefreshDocument, { refreshToken: sessions[0]!.refreshToken! });
    expect(reused.error?.reason).toBe("REFRESH_TOKEN_REUSED");
    expect(await closedWithin(sockets[0]!, WITHIN_MS)).toEqual(REVOKED);
    expect((await sockets[1]!.eventsAtLeast(1))[0]).toMatchObject({ type: "SESSION_ENDED", reason: "REFRESH_REUSE" });
    await stillOpen(sockets[1]!, userId);
  });

  it("the session cap's eviction closes the oldest session's socket, and others hear SIGNED_IN", async () => {
    const { email, sessions, sockets, userId } = await userWithSockets(3);
    const newest = await login(b.url, email, PASSWORD, "tablet");
    expect(await closedWithin(sockets[0]!, WITHIN_MS)).toEqual(REVOKED);
    const events = await sockets[2]!.eventsAtLeast(2);
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: "SIGNED_IN", sessionId: newest.sessionId, device: "tablet" }),
        expect.objectContaining({ type: "SESSION_ENDED", sessionId: sessions[0]!.sessionId, reason: "SESSION_CAP" }),
      ]),
    );
    await stillOpen(sockets[1]!, userId);
  });
});
