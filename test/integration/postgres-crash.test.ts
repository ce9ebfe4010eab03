import { keys } from "@revocable-auth/verifier/internal";
import { Client } from "pg";
import { MeDocument, SetUserDisabledDocument, SetUserRolesDocument } from "../../schema/generated/graphql";
import { spawnApi, type ApiProcess } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startPostgres, type TestPostgres } from "../support/postgres";
import { startRedis, type TestRedis } from "../support/redis";

/**
 * A crash between the two stores, for real: the directory change commits in Postgres, Redis is
 * down before the access record is copied, and the API process is killed (SIGKILL) with the copy in
 * flight. The next start on the same data replays the outbox: the role change and the revocation
 * both reach Redis. Nothing in src helps: the test holds the advisory lock every access change takes
 * (src/store/postgres/transitions.ts) to stop Redis at the right moment. (Stopped, not frozen: a
 * frozen redis-server would still run the commands already in its socket buffer once resumed.)
 */
const ACCESS_LOCK = 32_001;

let redis: TestRedis;
let postgres: TestPostgres;
let databaseUrl: string;
let database: string;
const rootEmail = uniqueEmail("root");
const env = () => ({ DATABASE_URL: databaseUrl, ADMIN_EMAIL: rootEmail, ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: "warn" });

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  databaseUrl = await postgres.createDatabase("crash");
  database = databaseUrl.split("/").at(-1)!;
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.destroy(), postgres?.destroy()]);
});

async function eventually(what: string, check: () => Promise<boolean>, withinMs = 15_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
const one = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) => (await postgres.query<T>(sql, params, database))[0]!;

describe("a crash between the Postgres commit and the Redis copy", () => {
  let api: ApiProcess | null = null;
  afterEach(async () => {
    await api?.stop("SIGKILL");
  });

  it("is repaired by the outbox replay at the next start: the revocation and the role change reach Redis", async () => {
    api = await spawnApi(redis.url, env());
    const root = await login(api.url, rootEmail);
    const [victim, admin] = [await register(api.url), await register(api.url)];
    expect((await send(api.url, SetUserRolesDocument, { userId: admin.user.id, roles: ["USER", "ADMIN"] }, { token: root.accessToken })).data).toBeDefined();

    // Both changes authenticate (Redis answers), then wait on the lock every access change takes.
    const holder = new Client({ connectionString: databaseUrl });
    await holder.connect();
    await holder.query("SELECT pg_advisory_lock($1)", [ACCESS_LOCK]);
    // Their answers never come: the process is killed first.
    void send(api.url, SetUserDisabledDocument, { userId: victim.user.id, disabled: true }, { token: root.accessToken }).catch(() => null);
    void send(api.url, SetUserRolesDocument, { userId: admin.user.id, roles: ["USER"] }, { token: root.accessToken }).catch(() => null);
    await eventually("both changes waiting on the lock", async () =>
      Number((await one<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).n) === 2);

    // Redis goes down; Postgres commits both; the API dies while it tries to copy them.
    await redis.stop();
    await holder.query("SELECT pg_advisory_unlock($1)", [ACCESS_LOCK]);
    await holder.end();
    await eventually("both changes committed in Postgres", async () =>
      Number((await one<{ n: number }>("SELECT count(*)::int AS n FROM directory_outbox")).n) === 2);
    expect(await api.stop("SIGKILL")).toBe("SIGKILL");
    api = null;
    await redis.start();

    expect(await one("SELECT disabled FROM users WHERE id = $1", [victim.user.id])).toEqual({ disabled: true });
    expect(await one("SELECT roles FROM users WHERE id = $1", [admin.user.id])).toEqual({ roles: ["USER"] });
    // The torn state the crash left: Redis still lets the disabled user in, as an admin the demoted one.
    expect(await redis.client.get(keys.accessRecord(victim.user.id))).toMatch(/^1\|\d+\|0/);
    expect(await redis.client.get(keys.accessRecord(admin.user.id))).toMatch(/\|USER,ADMIN\|/);
    expect(await redis.client.get(keys.cutoff(victim.user.id))).toBeNull();

    // The next start on the same data replays both rows before it serves.
    api = await spawnApi(redis.url, env());
    expect(await one("SELECT count(*)::int AS n FROM directory_outbox")).toEqual({ n: 0 });
    expect(await redis.client.get(keys.accessRecord(victim.user.id))).toMatch(/^1\|\d+\|1/);
    expect(await redis.client.get(keys.cutoff(victim.user.id))).not.toBeNull();
    expect((await send(api.url, MeDocument, {}, { token: victim.accessToken })).status).toBe(401);
    expect((await send(api.url, MeDocument, {}, { token: admin.accessToken })).data?.me.roles).toEqual(["USER"]);
  }, 90_000);
});
