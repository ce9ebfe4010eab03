import { Writable } from "node:stream";
import pino from "pino";
import {
  AuditEventsDocument,
  ChangePasswordDocument,
  LoginDocument,
  LogoutAllDocument,
  LogoutDocument,
  LogoutOthersDocument,
  RefreshDocument,
  RegisterDocument,
  RevokeSessionDocument,
  RevokeUserSessionsDocument,
  SecurityEventsDocument,
  SetUserDisabledDocument,
  SetUserRolesDocument,
  type AuditEventsQuery,
  type AuditEventsQueryVariables,
  type SecurityEventsQuery,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";
import { startStore, type StoreBackend, type StoreMode } from "../support/stores";
import { settled } from "../support/settled";

type SecurityEvent = SecurityEventsQuery["securityEvents"]["edges"][number]["node"];
type AuditEvent = AuditEventsQuery["auditEvents"]["nodes"][number];

const UA = "Mozilla/5.0 (X11; Linux x86_64) audit-trail-test";
/** With TRUST_PROXY=1 the client's address is the one X-Forwarded-For names. */
const from = (ip: string, token?: string) => ({ token, headers: { "x-forwarded-for": ip, "user-agent": UA } });


describe.each<[StoreMode]>([["redis"], ["cluster"], ["memory"]])("the audit trail on the %s store", (mode) => {
  let backend: StoreBackend;
  let api: TestApi;
  let admin: Awaited<ReturnType<typeof login>>;
  const ADMIN_EMAIL = uniqueEmail("admin");

  beforeAll(async () => {
    backend = await startStore(mode);
    // MAIL_URL=off: register mails no verification, so each test here counts only the session and
    // admin events it makes; the mail flows' events are read in flow-events.test.ts.
    api = await startApi(null, { ...backend.env, ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, TRUST_PROXY: "1", REFRESH_REUSE_GRACE_SECONDS: "0", MAIL_URL: "off" });
    admin = await login(api.url, ADMIN_EMAIL);
  });
  afterAll(async () => {
    await api?.stop();
    await backend?.destroy();
  });

  const securityEvents = async (token: string, variables: { first?: number; after?: string } = {}) => {
    const result = await send(api.url, SecurityEventsDocument, variables, { token });
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.securityEvents;
  };
  const mine = (token: string, count: number) =>
    settled(
      async () => (await securityEvents(token, { first: 100 })).edges.map((edge) => edge.node),
      (events) => events.length >= count,
    );
  const auditEvents = async (variables: AuditEventsQueryVariables, token = admin.accessToken) => {
    const result = await send(api.url, AuditEventsDocument, variables, { token });
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.auditEvents;
  };
  const about = (userId: string, count: number, filter: AuditEventsQueryVariables["filter"] = {}) =>
    settled(
      async () => (await auditEvents({ first: 100, filter: { userId, ...filter } })).nodes,
      (events) => events.length >= count,
    );

  it("records a sign-in with its session, client IP, user agent and device, shown to the user as current", async () => {
    const email = uniqueEmail();
    const registered = await send(api.url, RegisterDocument, { input: { email, password: PASSWORD, device: "laptop" } }, from("198.51.100.10"));
    const user = registered.data!.register;
    const [event] = await mine(user.accessToken, 1);
    expect(event).toEqual<SecurityEvent>({
      id: expect.stringMatching(/^[\w-]{16}$/),
      type: "SIGNED_IN",
      at: expect.any(String),
      sessionId: user.sessionId,
      current: true,
      device: "laptop",
      ip: "198.51.100.10",
      userAgent: UA,
    });
    expect(Math.abs(Date.parse(event!.at) - Date.now())).toBeLessThan(10_000);

    const other = await send(api.url, LoginDocument, { input: { email, password: PASSWORD, device: "phone" } }, from("198.51.100.11"));
    const events = await mine(user.accessToken, 2);
    expect(events[0]).toMatchObject({ type: "SIGNED_IN", sessionId: other.data!.login.sessionId, current: false, device: "phone", ip: "198.51.100.11" });
    const [detailed] = await about(user.user.id, 2);
    expect(detailed).toMatchObject({ type: "SIGNED_IN", actorId: null, userId: user.user.id, details: { via: "password" } });
  });

  it("records each of the user's own security operations, newest first, never a secret", async () => {
    const email = uniqueEmail();
    const first = await register(api.url, { email, device: "laptop" });
    const second = await login(api.url, email, PASSWORD, "phone");
    const third = await login(api.url, email, PASSWORD, "tablet");
    await send(api.url, LoginDocument, { input: { email, password: "wrong password!" } }, from("198.51.100.20"));
    await send(api.url, RevokeSessionDocument, { id: third.sessionId }, from("198.51.100.21", first.accessToken));
    await send(api.url, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: "a brand new passphrase" }, from("198.51.100.22", first.accessToken));
    const fourth = await login(api.url, email, "a brand new passphrase", "desk");
    await send(api.url, LogoutOthersDocument, {}, from("198.51.100.23", fourth.accessToken));
    const fifth = await login(api.url, email, "a brand new passphrase");
    await send(api.url, RefreshDocument, { refreshToken: fifth.refreshToken! });
    await send(api.url, RefreshDocument, { refreshToken: fifth.refreshToken! }, from("198.51.100.24"));
    const sixth = await login(api.url, email, "a brand new passphrase");
    await send(api.url, LogoutDocument, {}, from("198.51.100.25", sixth.accessToken));
    const last = await login(api.url, email, "a brand new passphrase");
    await send(api.url, LogoutAllDocument, {}, from("198.51.100.26", last.accessToken));

    const events = await about(first.user.id, 14);
    expect(events.map((event) => [event.type, event.details])).toEqual([
      ["SIGNED_OUT", { scope: "all", ended: 2 }], // fourth's session and this last one
      ["SIGNED_IN", { via: "password" }],
      ["SIGNED_OUT", { scope: "session", ended: 1 }],
      ["SIGNED_IN", { via: "password" }],
      ["REFRESH_REUSE_DETECTED", {}],
      ["SIGNED_IN", { via: "password" }],
      ["SIGNED_OUT", { scope: "others", ended: 1 }],
      ["SIGNED_IN", { via: "password" }],
      ["PASSWORD_CHANGED", {}],
      ["SESSION_REVOKED", { revokedSessionId: third.sessionId }],
      ["LOGIN_FAILED", {}],
      ["SIGNED_IN", { via: "password" }],
      ["SIGNED_IN", { via: "password" }],
      ["SIGNED_IN", { via: "register" }],
    ]);
    const byType = (type: string) => events.find((event) => event.type === type)!;
    expect(byType("LOGIN_FAILED")).toMatchObject({ userId: first.user.id, sessionId: null, ip: "198.51.100.20", userAgent: UA });
    expect(byType("SESSION_REVOKED")).toMatchObject({ sessionId: first.sessionId, ip: "198.51.100.21" });
    expect(byType("PASSWORD_CHANGED")).toMatchObject({ sessionId: first.sessionId, ip: "198.51.100.22" });
    expect(byType("REFRESH_REUSE_DETECTED")).toMatchObject({ sessionId: fifth.sessionId, ip: "198.51.100.24" });
    expect(events[0]).toMatchObject({ sessionId: last.sessionId, ip: "198.51.100.26", actorId: null });
    expect(events.filter((event) => event.type === "SIGNED_IN").map((event) => event.sessionId)).toEqual(
      [last, sixth, fifth, fourth, third, second, first].map((payload) => payload.sessionId),
    );
    const text = JSON.stringify(events);
    for (const secret of [email, PASSWORD, "a brand new passphrase", "wrong password!", first.accessToken, fifth.refreshToken!]) {
      expect(text).not.toContain(secret);
    }
  });

  it("records admin actions with who did them to whom, and their details", async () => {
    const target = await register(api.url);
    await send(api.url, SetUserRolesDocument, { userId: target.user.id, roles: ["USER", "ADMIN"] }, from("198.51.100.30", admin.accessToken));
    await send(api.url, SetUserDisabledDocument, { userId: target.user.id, disabled: true }, from("198.51.100.30", admin.accessToken));
    await send(api.url, SetUserDisabledDocument, { userId: target.user.id, disabled: false }, from("198.51.100.30", admin.accessToken));
    await send(api.url, RevokeUserSessionsDocument, { userId: target.user.id }, from("198.51.100.30", admin.accessToken));
    const events = await about(target.user.id, 5);
    expect(events.slice(0, 4)).toEqual([
      expect.objectContaining({ type: "USER_SESSIONS_REVOKED", details: { action: "revokeUserSessions", ended: 0 } }),
      expect.objectContaining({ type: "USER_ENABLED", details: { action: "setUserDisabled", disabled: false } }),
      expect.objectContaining({ type: "USER_DISABLED", details: { action: "setUserDisabled", disabled: true } }),
      expect.objectContaining({ type: "USER_ROLES_CHANGED", details: { action: "setUserRoles", roles: ["USER", "ADMIN"] } }),
    ]);
    for (const event of events.slice(0, 4)) {
      expect(event).toMatchObject({ actorId: admin.user.id, userId: target.user.id, sessionId: admin.sessionId, current: true, ip: "198.51.100.30" });
    }
    // The target sees what was done to their account, in their own history.
    const seen = await mine((await login(api.url, target.user.email)).accessToken, 6);
    expect(seen.map((event) => event.type)).toContain("USER_DISABLED");
  });

  it("shows a user only their own events", async () => {
    const alice = await register(api.url);
    const bob = await register(api.url);
    // A second session, so that ending the others is an event of Bob's (ending none is not one, and
    // waiting for a second event that never came held this test for settled's whole 5 s).
    await login(api.url, bob.user.email);
    await send(api.url, LogoutOthersDocument, {}, { token: bob.accessToken });
    await about(bob.user.id, 3);
    const events = await mine(alice.accessToken, 1);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: "SIGNED_IN", sessionId: alice.sessionId });
  });

  it("refuses auditEvents to a non-admin, and both queries to an anonymous caller", async () => {
    const user = await register(api.url);
    const refused = await send(api.url, AuditEventsDocument, {}, { token: user.accessToken });
    expect(refused.error).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_ROLE" });
    expect(refused.data).toBeNull();
    expect((await send(api.url, SecurityEventsDocument, {})).error).toMatchObject({ code: "UNAUTHENTICATED" });
    expect((await send(api.url, AuditEventsDocument, {})).error).toMatchObject({ code: "UNAUTHENTICATED" });
  });

  it("pages newest first without skipping or repeating, while new events arrive", async () => {
    const email = uniqueEmail();
    const user = await register(api.url, { email });
    for (let i = 0; i < 4; i++) await login(api.url, email);
    const all = await mine(user.accessToken, 5);
    expect(all).toHaveLength(5);

    const firstPage = await securityEvents(user.accessToken, { first: 2 });
    expect(firstPage.edges.map((edge) => edge.node)).toEqual(all.slice(0, 2));
    expect(firstPage.pageInfo).toEqual({ hasNextPage: true, endCursor: firstPage.edges[1]!.cursor });
    await login(api.url, email); // arrives before the next page is asked for: it is newer, so not on it
    await mine(user.accessToken, 6);
    const secondPage = await securityEvents(user.accessToken, { first: 2, after: firstPage.pageInfo.endCursor! });
    expect(secondPage.edges.map((edge) => edge.node)).toEqual(all.slice(2, 4));
    const lastPage = await securityEvents(user.accessToken, { first: 2, after: secondPage.pageInfo.endCursor! });
    expect(lastPage.edges.map((edge) => edge.node)).toEqual(all.slice(4));
    expect(lastPage.pageInfo.hasNextPage).toBe(false);
  });

  it("refuses a page size out of range and a cursor it did not make, with BAD_USER_INPUT", async () => {
    const user = await register(api.url);
    for (const variables of [{ first: 0 }, { first: 101 }, { after: "not-a-cursor!" }, { after: Buffer.from("[1,2]").toString("base64url") }]) {
      const result = await send(api.url, SecurityEventsDocument, variables, { token: user.accessToken });
      expect(result.error).toMatchObject({ code: "BAD_USER_INPUT" });
    }
    const badTypes = await send(api.url, AuditEventsDocument, { filter: { types: ["signed in"] } }, { token: admin.accessToken });
    expect(badTypes.error).toMatchObject({ code: "BAD_USER_INPUT" });
  });

  it("filters the global trail by user, actor, types and time, and pages the filtered result", async () => {
    const email = uniqueEmail();
    const user = await register(api.url, { email });
    const start = new Date().toISOString();
    await send(api.url, LoginDocument, { input: { email, password: "wrong password!" } });
    await send(api.url, SetUserDisabledDocument, { userId: user.user.id, disabled: true }, { token: admin.accessToken });
    await send(api.url, SetUserDisabledDocument, { userId: user.user.id, disabled: false }, { token: admin.accessToken });
    await login(api.url, email);
    await about(user.user.id, 5);

    const byActor = await auditEvents({ first: 100, filter: { actorId: admin.user.id, types: ["USER_DISABLED", "USER_ENABLED"] } });
    expect(byActor.nodes.slice(0, 2).map((event) => [event.type, event.userId])).toEqual([
      ["USER_ENABLED", user.user.id],
      ["USER_DISABLED", user.user.id],
    ]);
    expect(byActor.nodes.every((event) => event.actorId === admin.user.id)).toBe(true);

    const failed = await auditEvents({ filter: { types: ["LOGIN_FAILED"], userId: user.user.id } });
    expect(failed.nodes).toHaveLength(1);
    // The global stream, filtered by types only, pages too: one event a page.
    const page1 = await auditEvents({ first: 1, filter: { types: ["USER_ENABLED", "USER_DISABLED"], from: start } });
    const page2 = await auditEvents({ first: 1, after: page1.pageInfo.endCursor, filter: { types: ["USER_ENABLED", "USER_DISABLED"], from: start } });
    expect([page1.nodes[0]!.type, page2.nodes[0]!.type]).toEqual(["USER_ENABLED", "USER_DISABLED"]);
    expect(page1.pageInfo.hasNextPage).toBe(true);

    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await auditEvents({ filter: { userId: user.user.id, from: future } })).nodes).toEqual([]);
    const upToNow = await auditEvents({ first: 100, filter: { userId: user.user.id, to: new Date().toISOString() } });
    expect(upToNow.nodes.map((event: AuditEvent) => event.type)).toContain("SIGNED_IN");
    const reversed = await send(api.url, AuditEventsDocument, { filter: { from: future, to: start } }, { token: admin.accessToken });
    expect(reversed.error).toMatchObject({ code: "BAD_USER_INPUT" });
  });
});

describe("event ids, in the log and in a Redis written to before", () => {
  const ADMIN = uniqueEmail("admin");
  let redis: TestRedis;
  let api: TestApi;
  const logLines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(...chunk.toString().split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>));
        done();
      },
    });
    // No verification mail, so registering writes exactly one event: SIGNED_IN.
    api = await startApi(redis.url, { MAIL_URL: "off", ADMIN_EMAIL: ADMIN, ADMIN_PASSWORD: PASSWORD }, { logger: pino({ level: "warn" }, sink) });
  });
  afterAll(async () => {
    await api?.stop();
    await redis?.destroy();
  });

  it("reads an entry written before events had ids, named by its place in the stream", async () => {
    const user = await register(api.url);
    const stream = `auth:{u:${user.user.id}}:audit`;
    await settled(() => redis.client.xlen(stream), (length) => length === 1);
    const legacy = await redis.client.xadd(stream, "*", "t", "PASSWORD_CHANGED", "u", user.user.id, "ip", "198.51.100.12");
    const events = (await send(api.url, SecurityEventsDocument, { first: 10 }, { token: user.accessToken })).data!.securityEvents.edges.map((edge) => edge.node);
    expect(events.map((event) => [event.type, event.ip])).toEqual([
      ["PASSWORD_CHANGED", "198.51.100.12"],
      ["SIGNED_IN", expect.any(String)],
    ]);
    expect(events[0]!.id).toBe(`user-${legacy}`);
    expect(events[1]!.id).toMatch(/^[\w-]{16}$/);
    // The same legacy entry in the global stream: another id, never one of the user's stream.
    const global = await redis.client.xadd("auth:{audit}:events", "*", "t", "PASSWORD_CHANGED", "u", user.user.id);
    const admin = await login(api.url, ADMIN);
    const everyone = (await send(api.url, AuditEventsDocument, { first: 1, filter: { types: ["PASSWORD_CHANGED"] } }, { token: admin.accessToken })).data!.auditEvents.nodes;
    expect(everyone.map((event) => event.id)).toEqual([`global-${global}`]);
  });

  it("names the event in its log line by the id the API gives it", async () => {
    const user = await register(api.url);
    const [event] = (await send(api.url, SecurityEventsDocument, { first: 1 }, { token: user.accessToken })).data!.securityEvents.edges.map((edge) => edge.node);
    const lines = logLines.filter((line) => line.audit === "signed_in" && line.userId === user.user.id && line.msg === "signed in");
    expect(lines.map((line) => line.eventId)).toEqual([event!.id]);
  });
});

describe("a trail write that fails", () => {
  let redis: TestRedis;
  let api: TestApi;
  beforeAll(async () => {
    redis = await startRedis();
    api = await startApi(redis.url);
  });
  afterAll(async () => {
    await api?.stop();
    await redis?.destroy();
  });

  it("fails nothing: the operation succeeds, and the failure is counted", async () => {
    const email = uniqueEmail();
    const user = await register(api.url, { email });
    // A key of the wrong type where the user's stream belongs: every append to it is refused.
    await redis.client.del(`auth:{u:${user.user.id}}:audit`);
    await redis.client.set(`auth:{u:${user.user.id}}:audit`, "not a stream");
    const again = await send(api.url, LoginDocument, { input: { email, password: PASSWORD } });
    expect(again.data?.login.user.id).toBe(user.user.id);
    const failures = await settled(
      async () => {
        const text = await (await fetch(api.url.replace(/graphql$/, "metrics"))).text();
        return Number(/^auth_audit_write_failures_total (\d+)/m.exec(text)?.[1] ?? 0);
      },
      (count) => count >= 1,
    );
    expect(failures).toBeGreaterThanOrEqual(1);
  });
});
