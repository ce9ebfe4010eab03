import { randomBytes } from "node:crypto";
import { keys } from "@revocable-auth/verifier/internal";
import { startApi, type TestApi } from "../support/api";
import { PasskeyLoginOptionsDocument, PasskeysDocument, RemovePasskeyDocument, RenamePasskeyDocument } from "../../schema/generated/graphql";
import { CONNECTION_NAME } from "../../src/store/redis/redis-store";
import { post, register, send, uniqueEmail } from "../support/client";
import { describeOnce, itOnce } from "../support/directory";
import { commandsSentBy, startRedis, type TestRedis } from "../support/redis";

/**
 * Passkeys over plain HTTP: what needs no browser (the ceremonies themselves run in
 * test/e2e/passkeys.test.ts). Every answer here is a typed error, never a 500.
 */
let redis: TestRedis;
let api: TestApi;
/** Shared by every instance, as in production: the stand-in credential ids are keyed from it. */
const MFA_ENCRYPTION_KEY = randomBytes(32).toString("base64");
const ENV = { LOGIN_MAX_FAILURES: "2", LOGIN_MAX_FAILURES_PER_IP: "6", PASSKEY_OPTIONS_MAX_PER_IP: "8", MFA_ENCRYPTION_KEY };

beforeAll(async () => {
  redis = await startRedis();
  api = await startApi(redis.url, ENV);
});
afterAll(async () => {
  await api?.stop();
  await redis?.destroy();
});

const LOGIN = "mutation ($response: JSON!) { loginWithPasskey(response: $response) { accessToken } }";
const OPTIONS = "mutation ($email: String) { passkeyLoginOptions(email: $email) }";
const gql = (query: string, variables: object = {}, token?: string) => post(api.url, { query, variables }, token === undefined ? {} : { token });

/** The transports real authenticators report, as browsers list them (sorted, getTransports()). */
const REAL_TRANSPORTS = [["hybrid", "internal"], ["internal"], ["hybrid"], ["nfc", "usb"], ["usb"], []].map((set) => JSON.stringify(set));

type Allowed = { id: string; type: string; transports: string[] }[];

/** 1 to 3 entries, each a credential id of a length authenticators make and a transport set they report. */
function expectRealShape(allowed: Allowed): void {
  expect(allowed.length).toBeGreaterThanOrEqual(1);
  expect(allowed.length).toBeLessThanOrEqual(3);
  for (const entry of allowed) {
    expect(entry).toEqual({ id: expect.stringMatching(/^[A-Za-z0-9_-]+$/), type: "public-key", transports: expect.any(Array) });
    expect([16, 20, 32, 64]).toContain(Buffer.from(entry.id, "base64url").length);
    expect(REAL_TRANSPORTS).toContain(JSON.stringify(entry.transports));
  }
}

/** An assertion of the right shape that no authenticator made, for a credential id of our choosing. */
function forgedAssertion(credentialId = randomBytes(16).toString("base64url")) {
  const clientData = { type: "webauthn.get", challenge: randomBytes(32).toString("base64url"), origin: "http://localhost" };
  return {
    id: credentialId,
    rawId: credentialId,
    type: "public-key",
    response: {
      clientDataJSON: Buffer.from(JSON.stringify(clientData)).toString("base64url"),
      authenticatorData: randomBytes(37).toString("base64url"),
      signature: randomBytes(64).toString("base64url"),
    },
    clientExtensionResults: {},
  };
}

describe("passkeys over HTTP", () => {
  it.each([
    ["a string", "not a credential"],
    ["a list", [1, 2]],
    ["an object without the assertion's fields", { id: "abc", type: "public-key" }],
    ["a credential id that is not base64url", { ...forgedAssertion(), id: "not base64url!" }],
    ["an oversized response", { ...forgedAssertion(), padding: "x".repeat(40_000) }],
  ])("answers %s as a response with BAD_USER_INPUT", async (_label, response) => {
    const result = await gql(LOGIN, { response });
    expect(result.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
  });

  it("throttles failed sign-ins per credential, then per client IP, with Retry-After", async () => {
    const credentialId = randomBytes(16).toString("base64url");
    for (let i = 0; i < 2; i++) {
      expect((await gql(LOGIN, { response: forgedAssertion(credentialId) })).error).toMatchObject({ reason: "INVALID_CREDENTIALS" });
    }
    const throttled = await gql(LOGIN, { response: forgedAssertion(credentialId) });
    expect(throttled.error).toMatchObject({ code: "TOO_MANY_REQUESTS", reason: "PASSKEY_THROTTLED" });
    expect(Number(throttled.headers.get("retry-after"))).toBeGreaterThan(0);
    // Other credential ids from the same client: the per-IP count (6) runs out too.
    const outcomes: unknown[] = [];
    for (let i = 0; i < 5; i++) outcomes.push((await gql(LOGIN, { response: forgedAssertion() })).error?.reason);
    expect(outcomes).toEqual(["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "PASSKEY_THROTTLED"]);
  });

  it("runs at most one passkey sign-in per request, as for the other credential mutations", async () => {
    const response = forgedAssertion();
    const query = "mutation ($r: JSON!) { a: loginWithPasskey(response: $r) { accessToken } b: loginWithPasskey(response: $r) { accessToken } }";
    const result = await gql(query, { r: response });
    expect(result.error).toMatchObject({ code: "GRAPHQL_VALIDATION_FAILED", message: expect.stringMatching(/\(or one second-factor, passkey or mail mutation\) may run per request/) });
  });

  it("gives discoverable options without an email, and for an email without passkeys a stand-in that does not tell", async () => {
    const discoverable = (await send(api.url, PasskeyLoginOptionsDocument, {})).data as { passkeyLoginOptions: Record<string, unknown> };
    expect(discoverable.passkeyLoginOptions).toMatchObject({ rpId: "localhost", userVerification: "required", timeout: 300_000 });
    expect(discoverable.passkeyLoginOptions.allowCredentials ?? []).toEqual([]);
    expect(discoverable.passkeyLoginOptions.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const account = await register(api.url);
    const unknown = uniqueEmail("nobody");
    const allowed = async (email: string) => ((await gql(OPTIONS, { email })).data as any).passkeyLoginOptions.allowCredentials;
    const [known, stranger, strangerAgain] = [await allowed(account.user.email), await allowed(unknown), await allowed(unknown)];
    expectRealShape(known);
    expectRealShape(stranger);
    expect(strangerAgain).toEqual(stranger);
    // Another instance (or this one restarted) answers the same: a stand-in that changed would tell.
    const other = await startApi(redis.url, ENV);
    try {
      const there = await post(other.url, { query: OPTIONS, variables: { email: unknown } });
      expect((there.data as any).passkeyLoginOptions.allowCredentials).toEqual(stranger);
    } finally {
      await other.stop();
    }
  });

  it("counts requests for sign-in options per client IP, since each stores a challenge", async () => {
    // The limit is 8 for this server: earlier tests may have used some of it already.
    const reasons: unknown[] = [];
    for (let i = 0; i < 9; i++) reasons.push((await gql(OPTIONS)).error?.reason);
    const first = reasons.indexOf("PASSKEY_THROTTLED");
    expect(first).toBeGreaterThanOrEqual(0);
    expect(reasons.slice(0, first).every((reason) => reason === undefined)).toBe(true);
    expect(reasons.slice(first).every((reason) => reason === "PASSKEY_THROTTLED")).toBe(true);
  });

  itOnce("asks a user with a second factor on for an aal2 session before adding a passkey", async () => {
    const account = await register(api.url);
    const key = keys.user(account.user.id);
    await redis.client.set(key, JSON.stringify({ ...JSON.parse((await redis.client.get(key))!), mfaEnabled: true }));
    const refused = await gql("mutation { passkeyRegistrationOptions }", {}, account.accessToken);
    expect(refused.error).toMatchObject({ code: "FORBIDDEN", reason: "MFA_REQUIRED" });
  });

  it("answers the management operations with typed errors: signed in, known passkey, a valid name", async () => {
    expect((await gql("query { passkeys { id } }")).error).toMatchObject({ code: "UNAUTHENTICATED" });
    const account = await register(api.url);
    const as = { token: account.accessToken };
    expect((await send(api.url, PasskeysDocument, {}, as)).data).toEqual({ passkeys: [] });
    const rename = (name: string) => send(api.url, RenamePasskeyDocument, { id: "nope", name }, as);
    expect((await rename("x")).error).toMatchObject({ code: "NOT_FOUND", reason: "PASSKEY_NOT_FOUND" });
    expect((await rename("   ")).error).toMatchObject({ code: "BAD_USER_INPUT" });
    expect((await rename("x".repeat(65))).error).toMatchObject({ code: "BAD_USER_INPUT" });
    expect((await send(api.url, RemovePasskeyDocument, { id: "nope" }, as)).error).toMatchObject({ code: "NOT_FOUND", reason: "PASSKEY_NOT_FOUND" });
  });
});

describeOnce("passkeyLoginOptions(email) tells no one which addresses have passkeys", () => {
  let own: TestRedis;
  let first: TestApi;
  const env = { ...ENV, PASSKEY_OPTIONS_MAX_PER_IP: "100000" };
  beforeAll(async () => {
    own = await startRedis();
    first = await startApi(own.url, env);
  });
  afterAll(async () => {
    await first?.stop();
    await own?.destroy();
  });

  const optionsFor = async (url: string, email: string) => ((await post(url, { query: OPTIONS, variables: { email } })).data as any).passkeyLoginOptions.allowCredentials as Allowed;

  /** An account holding two passkeys of a synced platform authenticator, written as registerPasskey stores them. */
  async function accountWithPasskeys(): Promise<string> {
    const account = await register(first.url);
    for (let i = 0; i < 2; i++) {
      const id = randomBytes(16).toString("base64url");
      const passkey = { id, userId: account.user.id, name: "Passkey", publicKey: randomBytes(77).toString("base64url"), counter: 0, transports: ["hybrid", "internal"], backupEligible: true, backedUp: true, createdAt: Date.now(), lastUsedAt: null };
      await own.client.hset(keys.passkeys(account.user.id), id, JSON.stringify(passkey));
      await own.client.set(keys.passkeyOwner(id), account.user.id);
    }
    return account.user.email;
  }

  it("sends Redis the same commands for an address with passkeys, one without, and one with no account", async () => {
    const withPasskeys = await accountWithPasskeys();
    const without = (await register(first.url)).user.email;
    expect(await optionsFor(first.url, withPasskeys)).toHaveLength(2);
    const sent: Record<string, string[]> = {};
    for (const [label, email] of [["passkeys", withPasskeys], ["none", without], ["no account", uniqueEmail("nobody")]] as const) {
      sent[label] = await commandsSentBy(own, CONNECTION_NAME, () => optionsFor(first.url, email));
    }
    expect(sent.passkeys).toContain("hgetall");
    expect(sent.none).toEqual(sent.passkeys);
    expect(sent["no account"]).toEqual(sent.passkeys);
  });

  it("answers an address without passkeys in the shape of real ones, drawn per address and the same on every instance", async () => {
    const second = await startApi(own.url, env);
    try {
      const counts = [0, 0, 0, 0];
      const transportSets = new Set<string>();
      for (let i = 0; i < 120; i++) {
        const email = uniqueEmail(`stand-in-${i}`);
        const here = await optionsFor(first.url, email);
        expectRealShape(here);
        expect(await optionsFor(second.url, email)).toEqual(here);
        counts[here.length]! += 1;
        for (const entry of here) transportSets.add(JSON.stringify(entry.transports));
      }
      // Not always one entry with ["internal","hybrid"]: counts and transports vary as real accounts' do.
      expect(counts[1]).toBeGreaterThan(40);
      expect(counts[2]! + counts[3]!).toBeGreaterThan(15);
      expect(transportSets.size).toBeGreaterThanOrEqual(4);
    } finally {
      await second.stop();
    }
  }, 60_000);

  it("answers an address with passkeys and one without in about the same time", async () => {
    const withPasskeys = await accountWithPasskeys();
    const differences: number[] = [];
    const timed = async (email: string) => {
      const started = process.hrtime.bigint();
      await optionsFor(first.url, email);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    // Paired and interleaved, alternating which goes first, so load on the shared machine falls on both.
    for (let i = 0; i < 200; i++) {
      const unknown = uniqueEmail("timing");
      if (i % 2 === 0) {
        const known = await timed(withPasskeys);
        differences.push(known - (await timed(unknown)));
      } else {
        const stranger = await timed(unknown);
        differences.push((await timed(withPasskeys)) - stranger);
      }
    }
    const median = [...differences].sort((x, y) => x - y)[Math.floor(differences.length / 2)]!;
    console.log(`passkeyLoginOptions timing, with passkeys minus none, median of 200 pairs: ${median.toFixed(3)} ms`);
    expect(Math.abs(median)).toBeLessThan(1);
  }, 60_000);
});

describeOnce("with PASSKEYS=off", () => {
  let off: TestApi;
  beforeAll(async () => {
    off = await startApi(null, { PASSKEYS: "off" });
  });
  afterAll(() => off?.stop());

  it("answers every passkey operation FORBIDDEN / PASSKEYS_DISABLED", async () => {
    const account = await register(off.url);
    for (const query of ["mutation { passkeyLoginOptions }", "mutation { passkeyRegistrationOptions }", "query { passkeys { id } }"]) {
      expect((await post(off.url, { query }, { token: account.accessToken })).error).toMatchObject({ code: "FORBIDDEN", reason: "PASSKEYS_DISABLED" });
    }
  });
});
