import { Redis } from "ioredis";
import { LogoutDocument, LogoutOthersDocument } from "../../../schema/generated/graphql";
import { startApi, type TestApi } from "../../../test/support/api";
import { login, register, send } from "../../../test/support/client";
import { startRedis, type TestRedis } from "../../../test/support/redis";
import { LiveGuard, type Identity } from "../src";
import { encodeLiveEvent, LIVE_CHANNEL, parseLiveEvent } from "../src/internal";

/** The guard another service puts on its own live connections, fed by the auth API's real channel. */
let redis: TestRedis;
let api: TestApi;
let subscriber: Redis;
let guard: LiveGuard;

beforeAll(async () => {
  redis = await startRedis();
  api = await startApi(redis.url);
  subscriber = new Redis(redis.url);
  guard = new LiveGuard({ subscriber, redis: redis.client, recheckMs: 1000 });
  await guard.start();
});
afterAll(async () => {
  guard.stop();
  subscriber.disconnect();
  await api.stop();
  await redis.destroy();
});

const identityOf = (session: { user: { id: string }; sessionId: string; accessToken: string }, expiresAt = Date.now() + 60_000): Identity => ({
  userId: session.user.id,
  sessionId: session.sessionId,
  aal: "aal1",
  amr: ["pwd"],
  emailVerified: false,
  jti: JSON.parse(Buffer.from(session.accessToken.split(".")[1]!, "base64url").toString()).jti,
  roles: ["USER"],
  expiresAt,
  user: null,
});

function watched(identity: Identity) {
  let closeWith: (close: [number, string]) => void = () => undefined;
  const closed = new Promise<[number, string]>((resolve) => (closeWith = resolve));
  const unwatch = guard.watch(identity, (code, reason) => closeWith([code, reason]));
  const within = (ms: number) => Promise.race([closed, new Promise((r) => setTimeout(() => r("open"), ms))]);
  return { closed, unwatch, within };
}

describe("LiveGuard", () => {
  it("closes a watched connection with 4401 when the auth API publishes its logout", async () => {
    const session = await register(api.url);
    const connection = watched(identityOf(session));
    await send(api.url, LogoutDocument, {}, { token: session.accessToken });
    expect(await connection.within(500)).toEqual([4401, "TOKEN_REVOKED"]);
  });

  it("keeps the session logoutOthers kept, and closes the others", async () => {
    const first = await register(api.url);
    const second = await login(api.url, first.user.email);
    const [kept, ended] = [watched(identityOf(second)), watched(identityOf(first))];
    await send(api.url, LogoutOthersDocument, {}, { token: second.accessToken });
    expect(await ended.within(500)).toEqual([4401, "TOKEN_REVOKED"]);
    expect(await kept.within(300)).toBe("open");
    kept.unwatch();
  });

  it("closes within the re-check when the event never arrives, and with 4403 at expiry", async () => {
    const session = await register(api.url);
    const connection = watched(identityOf(session));
    await api.store.endSession(session.user.id, session.sessionId);
    expect(await connection.within(2000)).toEqual([4401, "TOKEN_REVOKED"]);
    const other = await register(api.url);
    expect(await watched(identityOf(other, Date.now() + 300)).within(1000)).toEqual([4403, "TOKEN_EXPIRED"]);
  });

  it("reads only well-formed messages of its version", () => {
    const event = { type: "revoked", kind: "logout", userId: "u", sessionId: "s", at: 1 } as const;
    expect(parseLiveEvent(encodeLiveEvent(event))).toEqual(event);
    expect(parseLiveEvent("not json")).toBeNull();
    expect(parseLiveEvent(JSON.stringify({ ...event, v: 2 }))).toBeNull();
    expect(parseLiveEvent(JSON.stringify({ ...event, v: 1, kind: "bogus" }))).toBeNull();
    expect(LIVE_CHANNEL).toBe("auth:{live}:events");
  });

  it("reads a provider identity linked or unlinked, and the provider of a sign-in, and nothing malformed of them", () => {
    const linked = { type: "identity_changed", userId: "u", change: "linked", provider: "corp", sessionId: "s", at: 1 } as const;
    expect(parseLiveEvent(encodeLiveEvent(linked))).toEqual(linked);
    const bySignIn = { type: "identity_changed", userId: "u", change: "unlinked", provider: "corp", at: 1 } as const;
    expect(parseLiveEvent(encodeLiveEvent(bySignIn))).toEqual(bySignIn);
    expect(parseLiveEvent(JSON.stringify({ ...linked, v: 1, change: "renamed" }))).toBeNull();
    expect(parseLiveEvent(JSON.stringify({ ...linked, v: 1, provider: 7 }))).toBeNull();
    const signedIn = { type: "signed_in", userId: "u", sessionId: "s", device: null, at: 1, provider: "corp" } as const;
    expect(parseLiveEvent(encodeLiveEvent(signedIn))).toEqual(signedIn);
    expect(parseLiveEvent(JSON.stringify({ ...signedIn, v: 1, provider: 7 }))).toBeNull();
  });

  it("reads the ended session's device name when a revocation carries one", () => {
    const event = { type: "revoked", kind: "session", userId: "u", sessionId: "s", device: "phone", at: 1 } as const;
    expect(parseLiveEvent(encodeLiveEvent(event))).toEqual(event);
    expect(parseLiveEvent(JSON.stringify({ ...event, v: 1, device: 7 }))).toBeNull();
  });

  it("reads an OAuth client's change, which names no user, and the guard stays quiet on it", async () => {
    const event = { type: "oauth_client_changed", clientId: "app", at: 1 } as const;
    expect(parseLiveEvent(encodeLiveEvent(event))).toEqual(event);
    expect(parseLiveEvent(JSON.stringify({ ...event, v: 1, clientId: 7 }))).toBeNull();
    const session = await register(api.url);
    const connection = watched(identityOf(session));
    await redis.client.publish(LIVE_CHANNEL, encodeLiveEvent(event));
    expect(await connection.within(300)).toBe("open");
    connection.unwatch();
  });
});
