import {
  ConfirmTotpDocument,
  CreateOAuthClientDocument,
  EnrollTotpDocument,
  LoginDocument,
  MeDocument,
  PasskeyRegistrationOptionsDocument,
  RefreshDocument,
  RefreshWithCookieDocument,
  RegisterDocument,
  RegisterPasskeyDocument,
  SetUserDisabledDocument,
} from "../../schema/generated/graphql";
import { DIRECTORY_CONNECT_TIMEOUT_MS, DIRECTORY_STATEMENT_TIMEOUT_MS } from "../../src/store/postgres/core";
import { CONNECTION_NAME } from "../../src/store/redis/redis-store";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { closedWithin, openLive, type CloseInfo } from "../support/live";
import { CookieJar, signInAtProvider, startApiWithProvider, visit, type TestProvider } from "../support/oidc";
import { startPostgres, type TestPostgres } from "../support/postgres";
import { commandsSentBy, startRedis, type TestRedis } from "../support/redis";
import { stepAt, totpCode } from "../support/totp";
import { attest, type CreationOptions } from "../support/webauthn";

/** The documented bound on a directory call with Postgres gone or frozen, plus slack for a loaded CI machine. */
const BOUND_MS = DIRECTORY_CONNECT_TIMEOUT_MS + DIRECTORY_STATEMENT_TIMEOUT_MS + 1_500;

let redis: TestRedis;
let postgres: TestPostgres;
let api: TestApi;
let provider: TestProvider;
/** The API's own origin, as the provider knows its callback. */
let apiOrigin: string;
let database: string;
const rootEmail = uniqueEmail("root");
/** Signs in at the provider `corp` (test/support/oidc.ts): a linked identity in the directory. */
const federated = { login: "federated", email: uniqueEmail("federated") };
const APP = "http://localhost:3000";
/** The origin the software authenticator (test/support/webauthn.ts) signs for. */
const WEBAUTHN_ORIGIN = "http://localhost:1";

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  const url = await postgres.createDatabase("directory");
  database = url.split("/").at(-1)!;
  await postgres.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  ({ api, provider, origin: apiOrigin } = await startApiWithProvider({
    redisUrl: redis.url,
    accounts: { [federated.login]: { email: federated.email, email_verified: true } },
    env: { DATABASE_URL: url, ADMIN_EMAIL: rootEmail, ADMIN_PASSWORD: PASSWORD, APP_URL: APP, WEBAUTHN_ORIGINS: WEBAUTHN_ORIGIN },
  }));
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await Promise.all([provider?.stop(), redis?.destroy(), postgres?.destroy()]);
});

const origin = () => api.url.replace(/\/graphql$/, "");
const sql = <Row extends Record<string, unknown>>(text: string, params: unknown[] = []) => postgres.query<Row>(text, params, database);
const readyz = async () => {
  const response = await fetch(`${origin()}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
/**
 * Every statement the API's database has run, as pg_stat_statements counts them (read from another
 * database), but the outbox's poll: every 30 s, whatever the requests, the API looks for changes an
 * outage left half done (src/store/postgres/outbox.ts). A slow run that spanned one counted it.
 */
const statements = async () =>
  Number(
    (
      await postgres.query<{ calls: string }>(
        `SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = $1 AND s.query NOT LIKE 'SELECT id::text, user_id::text, payload FROM directory_outbox WHERE created_at <=%'`,
        [database],
      )
    )[0]!.calls,
  );
const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
  const started = Date.now();
  return [await work(), Date.now() - started];
};
async function eventually(what: string, check: () => Promise<boolean>, withinMs = 20_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("the directory in Postgres: the request path", () => {
  it("keeps users in Postgres, and Redis without their password hash", async () => {
    const user = await register(api.url);
    const [row] = await postgres.query<{ email: string; password_hash: string }>("SELECT email, password_hash FROM users WHERE id = $1", [user.user.id], database);
    expect(row!.email).toBe(user.user.email);
    expect(row!.password_hash).toMatch(/^\$argon2id\$/);
    const everything = (await redis.client.keys(`*${user.user.id}*`)).map(async (key) => ((await redis.client.type(key)) === "string" ? redis.client.get(key) : ""));
    for (const value of await Promise.all(everything)) expect(value).not.toContain(row!.password_hash);
  });

  it("costs one Redis command and no Postgres statement per authenticated request", async () => {
    const user = await register(api.url);
    const requests = 25;
    const before = await statements();
    expect(before).toBeGreaterThan(0); // registering ran statements: the counter sees this database
    const commands = await commandsSentBy(redis, CONNECTION_NAME, async () => {
      for (let i = 0; i < requests; i++) {
        const result = await send(api.url, MeDocument, {}, { token: user.accessToken });
        expect(result.data?.me).toMatchObject({ id: user.user.id, email: user.user.email });
      }
    });
    expect(commands).toEqual(Array(requests).fill("mget"));
    expect(await statements()).toBe(before);
  });

  it("reports the directory apart on /readyz", async () => {
    expect(await readyz()).toEqual({ status: 200, body: { status: "ready", directory: "ready" } });
  });
});

describe("the directory in Postgres: what lands in its tables", () => {
  it("keeps a TOTP factor, recovery codes, a passkey, a linked identity and an OAuth client made through the API as rows", async () => {
    const user = await register(api.url);
    const id = user.user.id;
    const enrolment = await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: user.accessToken });
    const secret = enrolment.data!.enrollTotp.secret;
    const confirmed = await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, stepAt(Date.now())) }, { token: user.accessToken });
    expect(confirmed.error).toBeUndefined();
    const { recoveryCodes, auth } = confirmed.data!.confirmTotp;
    expect(await sql("SELECT mfa_enabled FROM users WHERE id = $1", [id])).toEqual([{ mfa_enabled: true }]);
    const [factor, ...more] = await sql<{ sealed_secret: string }>("SELECT sealed_secret FROM totp_factors WHERE user_id = $1", [id]);
    expect(more).toEqual([]);
    expect(factor!.sealed_secret).not.toContain(secret); // sealed with MFA_ENCRYPTION_KEY
    const codes = await sql<{ code_hash: string }>("SELECT code_hash FROM recovery_codes WHERE user_id = $1", [id]);
    expect(codes).toHaveLength(recoveryCodes.length);
    for (const code of recoveryCodes) expect(codes.map((row) => row.code_hash)).not.toContain(code); // hashed

    const options = await send(api.url, PasskeyRegistrationOptionsDocument, {}, { token: auth.accessToken });
    const response = attest(options.data!.passkeyRegistrationOptions as CreationOptions, WEBAUTHN_ORIGIN);
    const added = await send(api.url, RegisterPasskeyDocument, { response, name: "Work key" }, { token: auth.accessToken });
    expect(added.error).toBeUndefined();
    expect(await sql("SELECT credential_id, name FROM passkeys WHERE user_id = $1", [id])).toEqual([{ credential_id: added.data!.registerPasskey.id, name: "Work key" }]);

    const jar = new CookieJar();
    const started = await visit(jar, `${apiOrigin}/auth/oidc/corp/start?redirect_to=${encodeURIComponent(`${APP}/`)}`);
    expect(started.status).toBe(302);
    const callback = await signInAtProvider(jar, started.headers.get("location")!, federated.login, `${apiOrigin}/auth/oidc/corp/callback`);
    const signedIn = await visit(jar, callback);
    const refreshToken = /refresh_token=([^;]+)/.exec(signedIn.headers.getSetCookie().join("\n"))?.[1];
    expect(refreshToken).toBeDefined();
    const viaProvider = (await send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie: `refresh_token=${refreshToken}` } })).data!.refresh.accessToken;
    const federatedId = (await send(api.url, MeDocument, {}, { token: viaProvider })).data!.me.id;
    expect(await sql("SELECT u.email, li.email AS identity_email FROM linked_identities li JOIN users u ON u.id = li.user_id WHERE li.user_id = $1", [federatedId])).toEqual([
      { email: federated.email, identity_email: federated.email },
    ]);

    const root = await login(api.url, rootEmail);
    const input = { name: "Rows app", redirectUris: ["https://rows.example/callback"], grantTypes: ["authorization_code", "refresh_token"], scopes: ["openid", "email"] };
    const created = await send(api.url, CreateOAuthClientDocument, { input }, { token: root.accessToken });
    expect(created.error).toBeUndefined();
    const { clientId, clientSecret } = created.data!.createOAuthClient;
    const clients = await sql<Record<string, unknown>>("SELECT name, redirect_uris, grant_types, scopes, public, secret_hash FROM oauth_clients WHERE client_id = $1", [clientId]);
    expect(clients).toEqual([{ name: input.name, redirect_uris: input.redirectUris, grant_types: input.grantTypes, scopes: input.scopes, public: false, secret_hash: expect.any(String) }]);
    expect(clients[0]!.secret_hash).not.toBe(clientSecret);
    // Redis holds none of it: the client is directory state.
    expect(await redis.client.keys(`*oauth-client:${clientId}*`)).toEqual([]);
  });
});

describe("the directory in Postgres: live sockets", () => {
  it("closes a disabled user's socket with the same close frame as on Redis alone", async () => {
    async function closeOnDisable(target: TestApi): Promise<CloseInfo> {
      const root = await login(target.url, rootEmail);
      const user = await register(target.url);
      const live = await openLive(target.url, user.accessToken);
      try {
        expect(await live.me()).toBe(user.user.id);
        expect((await send(target.url, SetUserDisabledDocument, { userId: user.user.id, disabled: true }, { token: root.accessToken })).error).toBeUndefined();
        return await closedWithin(live, 5_000);
      } finally {
        await live.dispose();
      }
    }
    const alone = await startRedis();
    let onRedis: CloseInfo;
    try {
      const plain = await startApi(alone.url, { ADMIN_EMAIL: rootEmail, ADMIN_PASSWORD: PASSWORD });
      try {
        onRedis = await closeOnDisable(plain);
      } finally {
        await plain.stop();
      }
    } finally {
      await alone.destroy();
    }
    const onPostgres = await closeOnDisable(api);
    expect(onPostgres).toEqual(onRedis);
    expect(onPostgres.code).toBe(4401);
  });
});

describe("the directory in Postgres: Postgres down", () => {
  it("keeps valid tokens and refreshes working, answers 503 DIRECTORY_UNAVAILABLE in bounded time to what needs the directory, and recovers by itself", async () => {
    const user = await register(api.url);
    const root = await login(api.url, rootEmail);
    await postgres.stop();
    try {
      expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).data?.me.id).toBe(user.user.id);
      expect((await send(api.url, RefreshDocument, { refreshToken: user.refreshToken! })).data?.refresh.accessToken).toEqual(expect.any(String));
      const [signIn, signInMs] = await timed(() => send(api.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD } }));
      expect({ status: signIn.status, code: signIn.error?.code, reason: signIn.error?.reason }).toEqual({ status: 503, code: "SERVICE_UNAVAILABLE", reason: "DIRECTORY_UNAVAILABLE" });
      expect(signInMs).toBeLessThan(BOUND_MS);
      const registering = await send(api.url, RegisterDocument, { input: { email: uniqueEmail(), password: PASSWORD } });
      expect({ status: registering.status, reason: registering.error?.reason }).toEqual({ status: 503, reason: "DIRECTORY_UNAVAILABLE" });
      const disabling = await send(api.url, SetUserDisabledDocument, { userId: user.user.id, disabled: true }, { token: root.accessToken });
      expect({ status: disabling.status, reason: disabling.error?.reason }).toEqual({ status: 503, reason: "DIRECTORY_UNAVAILABLE" });
      expect(await readyz()).toEqual({ status: 200, body: { status: "ready", directory: "unavailable" } });
    } finally {
      await postgres.start();
    }
    await eventually("sign-in works again", async () => (await send(api.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD } })).data?.login != null);
    expect((await readyz()).body.directory).toBe("ready");
  }, 60_000);

  it("stopped with requests in flight: every `me` answers, sign-ins answer 503 DIRECTORY_UNAVAILABLE in bounded time, and recover once it is back", async () => {
    const reader = await register(api.url);
    // Another user signs in over and over: the session cap never ends the reader's session.
    const signer = await register(api.url);
    type Login = { startedAt: number; endedAt: number; ok: boolean; status: number; reason: string | undefined };
    const mes: { ok: boolean; error: unknown }[] = [];
    const logins: Login[] = [];
    let running = true;
    // Bounded: each loop stops at its cap even if the test's steps below never end it.
    const meLoop = (async () => {
      for (let i = 0; i < 20_000 && running; i++) {
        const result = await send(api.url, MeDocument, {}, { token: reader.accessToken });
        mes.push({ ok: result.data?.me.id === reader.user.id, error: result.error });
      }
    })();
    const loginLoop = (async () => {
      for (let i = 0; i < 400 && running; i++) {
        const startedAt = Date.now();
        const result = await send(api.url, LoginDocument, { input: { email: signer.user.email, password: PASSWORD } });
        logins.push({ startedAt, endedAt: Date.now(), ok: result.data?.login != null, status: result.status, reason: result.error?.reason as string | undefined });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    let downAt = 0;
    let restartAt = 0;
    let upAt = 0;
    try {
      await eventually("traffic flows", async () => mes.length >= 5 && logins.some((login) => login.ok), 10_000);
      await postgres.stop();
      downAt = Date.now();
      await eventually("sign-ins meet the stopped server", async () => logins.filter((login) => login.startedAt > downAt).length >= 2, 4 * BOUND_MS);
    } finally {
      restartAt = Date.now();
      await postgres.start();
      upAt = Date.now();
    }
    try {
      await eventually("sign-in works again", async () => logins.some((login) => login.startedAt > upAt && login.ok));
    } finally {
      running = false;
      await Promise.all([meLoop, loginLoop]);
    }
    expect(mes.filter((me) => !me.ok)).toEqual([]);
    expect(mes.length).toBeGreaterThan(10);
    // Every sign-in succeeded or failed as documented, within the bound, whenever it began.
    for (const login of logins.filter((login) => !login.ok)) {
      expect({ status: login.status, reason: login.reason }).toEqual({ status: 503, reason: "DIRECTORY_UNAVAILABLE" });
      expect(login.endedAt - login.startedAt).toBeLessThan(BOUND_MS);
    }
    const whileDown = logins.filter((login) => login.startedAt > downAt && login.endedAt < restartAt);
    expect(whileDown.length).toBeGreaterThanOrEqual(2);
    expect(whileDown.filter((login) => login.ok)).toEqual([]);
  }, 90_000);

  it("answers within the bound when Postgres hangs (frozen, connections open)", async () => {
    const user = await register(api.url);
    postgres.pause();
    try {
      const [signIn, ms] = await timed(() => send(api.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD } }));
      expect({ status: signIn.status, error: signIn.error }).toEqual({ status: 503, error: expect.objectContaining({ reason: "DIRECTORY_UNAVAILABLE" }) });
      expect(ms).toBeLessThan(BOUND_MS);
      expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).data?.me.id).toBe(user.user.id);
    } finally {
      postgres.resume();
    }
    await eventually("sign-in works again", async () => (await send(api.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD } })).data?.login != null);
  }, 60_000);
});
