import { LoginDocument, MeDocument, RefreshDocument, RegisterDocument, SetUserDisabledDocument } from "../../schema/generated/graphql";
import { DIRECTORY_CONNECT_TIMEOUT_MS, DIRECTORY_STATEMENT_TIMEOUT_MS } from "../../src/store/postgres/core";
import { CONNECTION_NAME } from "../../src/store/redis/redis-store";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startPostgres, type TestPostgres } from "../support/postgres";
import { commandsSentBy, startRedis, type TestRedis } from "../support/redis";

/** The documented bound on a directory call with Postgres gone or frozen, plus slack for a loaded CI machine. */
const BOUND_MS = DIRECTORY_CONNECT_TIMEOUT_MS + DIRECTORY_STATEMENT_TIMEOUT_MS + 1_500;

let redis: TestRedis;
let postgres: TestPostgres;
let api: TestApi;
let database: string;
const rootEmail = uniqueEmail("root");

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  const url = await postgres.createDatabase("directory");
  database = url.split("/").at(-1)!;
  await postgres.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  api = await startApi(redis.url, { DATABASE_URL: url, ADMIN_EMAIL: rootEmail, ADMIN_PASSWORD: PASSWORD });
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await Promise.all([redis?.destroy(), postgres?.destroy()]);
});

const origin = () => api.url.replace(/\/graphql$/, "");
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
