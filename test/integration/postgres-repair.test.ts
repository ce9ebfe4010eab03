import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { LoginDocument, MeDocument, SetUserDisabledDocument, SetUserRolesDocument, UsersDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startPostgres, type TestPostgres } from "../support/postgres";
import { startRedis, type TestRedis } from "../support/redis";

/**
 * Redis repaired from Postgres, the directory's truth: a sign-in after Redis lost a user's record,
 * and `npm run directory:resync` after Postgres went back in time (a point-in-time restore).
 */
const ROOT = resolve(__dirname, "../..");
/** dist/cli/directory-resync.js, which `npm run directory:resync` runs once built. */
const RESYNC = resolve(ROOT, "dist/cli/directory-resync.js");

let redis: TestRedis;
let postgres: TestPostgres;
let api: TestApi;
let databaseUrl: string;
const rootEmail = uniqueEmail("root");

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  databaseUrl = await postgres.createDatabase("repair");
  api = await startApi(redis.url, { DATABASE_URL: databaseUrl, ADMIN_EMAIL: rootEmail, ADMIN_PASSWORD: PASSWORD });
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await Promise.all([redis?.destroy(), postgres?.destroy()]);
});

const sql = <Row extends Record<string, unknown>>(text: string, params: unknown[] = []) => postgres.query<Row>(text, params, databaseUrl.split("/").at(-1));
const me = (token: string) => send(api.url, MeDocument, {}, { token });
const listUsers = (token: string) => send(api.url, UsersDocument, { first: 1 }, { token });

function resync(env: Record<string, string>, args: string[] = []): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [RESYNC, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, cwd: ROOT });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on("close", (status) => done({ status, stdout, stderr })));
}
const counted = (stdout: string) => Object.fromEntries([...stdout.matchAll(/^(.+?)(?: from \S+)?: (\d+)$/gm)].map(([, what, n]) => [what!, Number(n)]));

describe("a Redis that lost a user's record, with the directory in Postgres", () => {
  it("signs the user in again (the record is written back from Postgres) and `me` works", async () => {
    const user = await register(api.url);
    // Only the record: the access version beside it stays, as a partial loss or a restore leaves it.
    await redis.client.del(`auth:{u:${user.user.id}}:user`, `auth:{u:${user.user.id}}:access-record`);
    const signedIn = await login(api.url, user.user.email);
    expect(signedIn.user.id).toBe(user.user.id);
    expect((await me(signedIn.accessToken)).data?.me).toMatchObject({ id: user.user.id, email: user.user.email });
  });

  it("signs everyone in again after FLUSHALL, and keeps a wrong password out", async () => {
    const user = await register(api.url);
    await redis.client.flushall();
    const signedIn = await login(api.url, user.user.email);
    expect((await me(signedIn.accessToken)).data?.me.id).toBe(user.user.id);
    const root = await login(api.url, rootEmail);
    expect((await listUsers(root.accessToken)).error).toBeUndefined();
    const wrong = await send(api.url, LoginDocument, { input: { email: user.user.email, password: "wrong password!!" } });
    expect(wrong.error?.reason).toBe("INVALID_CREDENTIALS");
  });
});

describe("npm run directory:resync", () => {
  const env = () => ({ DATABASE_URL: databaseUrl, REDIS_URL: redis.url });

  it("after a point-in-time restore of Postgres, writes Postgres' state over Redis' newer one, ends and names the users it took back, and later admin changes take effect", async () => {
    const root = await login(api.url, rootEmail);
    const user = await register(api.url);
    const [{ v: before }] = await sql<{ v: number }>("SELECT access_version::int AS v FROM users WHERE id = $1", [user.user.id]);
    expect((await send(api.url, SetUserRolesDocument, { userId: user.user.id, roles: ["USER", "ADMIN"] }, { token: root.accessToken })).error).toBeUndefined();
    expect((await listUsers(user.accessToken)).error).toBeUndefined();
    // The restore: Postgres back to before the grant, its version with it. Redis still holds the grant, at a newer version.
    await sql("UPDATE users SET roles = ARRAY['USER'], access_version = $2 WHERE id = $1", [user.user.id, before]);
    expect((await listUsers(user.accessToken)).error).toBeUndefined(); // the stale grant: what resync is for

    const run = await resync(env());
    expect([run.status, run.stderr]).toEqual([0, ""]);
    const counts = counted(run.stdout);
    expect(counts["access records written"]).toBe(Number((await sql<{ n: number }>("SELECT count(*)::int AS n FROM users"))[0]!.n));
    expect(counts["of them, Redis held a newer version (Postgres was restored)"]).toBe(1);
    expect(counts["sessions ended of users Postgres has disabled or Redis held newer"]).toBeGreaterThanOrEqual(1);
    // Named for the operator, and signed out: whether the lost change loosened or tightened is not known.
    expect(run.stdout).toContain(`held newer in Redis, review its audit trail since the restore point: ${user.user.id}\n`);
    expect((await me(user.accessToken)).error?.code).toBe("UNAUTHENTICATED");
    const again = await login(api.url, user.user.email);
    await expect(listUsers(again.accessToken)).resolves.toMatchObject({ error: { code: "FORBIDDEN", reason: "MISSING_ROLE" } });
    expect((await me(again.accessToken)).data?.me.roles).toEqual(["USER"]);

    // The next admin change is newer than what Redis now holds: it reaches the request path.
    expect((await send(api.url, SetUserRolesDocument, { userId: user.user.id, roles: ["USER", "ADMIN"] }, { token: root.accessToken })).error).toBeUndefined();
    expect((await listUsers(again.accessToken)).error).toBeUndefined();
    expect((await send(api.url, SetUserDisabledDocument, { userId: user.user.id, disabled: true }, { token: root.accessToken })).error).toBeUndefined();
    expect((await me(again.accessToken)).error?.code).toBe("UNAUTHENTICATED");

    // Idempotent: a second run writes the same records, none behind.
    const second = await resync(env());
    expect([second.status, second.stderr]).toEqual([0, ""]);
    expect(counted(second.stdout)).toMatchObject({ "access records written": counts["access records written"], "of them, Redis held a newer version (Postgres was restored)": 0 });
    expect(second.stdout).not.toContain("held newer in Redis");
  });

  it("ends the sessions of a user Postgres has disabled while Redis still let them in", async () => {
    const user = await register(api.url);
    // The restore took Postgres back to a disable that a later enable (now lost) had undone.
    await sql("UPDATE users SET disabled = true WHERE id = $1", [user.user.id]);
    expect((await me(user.accessToken)).data?.me.id).toBe(user.user.id);
    const run = await resync(env());
    expect(run.status).toBe(0);
    expect(counted(run.stdout)["sessions ended of users Postgres has disabled or Redis held newer"]).toBeGreaterThanOrEqual(1);
    expect((await me(user.accessToken)).error?.code).toBe("UNAUTHENTICATED");
    // Enabled again, the old session stays ended: only a new sign-in lets the user in.
    const root = await login(api.url, rootEmail);
    expect((await send(api.url, SetUserDisabledDocument, { userId: user.user.id, disabled: false }, { token: root.accessToken })).error).toBeUndefined();
    expect((await me(user.accessToken)).error?.code).toBe("UNAUTHENTICATED");
    expect((await me((await login(api.url, user.user.email)).accessToken)).data?.me.id).toBe(user.user.id);
  });

  it("exits 2 with the usage without DATABASE_URL or Redis, or with arguments", async () => {
    for (const [given, args] of [[{ REDIS_URL: redis.url }, []], [{ DATABASE_URL: databaseUrl }, []], [env(), ["--to", "x"]]] as const) {
      const run = await resync(given, [...args]);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/Usage: DATABASE_URL=postgres:\/\/… REDIS_URL=redis:\/\/… npm run directory:resync/);
    }
  });
});
