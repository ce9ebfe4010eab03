import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { spawnApi, startApi, testEnv } from "../support/api";
import { startPostgres, type TestPostgres } from "../support/postgres";
import { startRedis, type TestRedis } from "../support/redis";

const ENTRY = resolve(__dirname, "../../dist/index.js");
const CLI = resolve(__dirname, "../../dist/cli/migrate.js");
const MFA_KEY = Buffer.alloc(32, 7).toString("base64");

let postgres: TestPostgres;
let redis: TestRedis;
beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
});
afterAll(async () => {
  await Promise.all([postgres?.destroy(), redis?.destroy()]);
});

const applied = async (url: string) =>
  (await postgres.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY version", [], url.split("/").at(-1))).map((row) => row.name);

describe("starting with DATABASE_URL", () => {
  it("applies pending migrations before listening, by default outside production", async () => {
    const url = await postgres.createDatabase("start");
    const api = await startApi(redis.url, { DATABASE_URL: url });
    try {
      expect(api.config.database).toEqual({ url, migrate: true });
      expect(await applied(url)).toEqual(["001_directory", "002_oauth_clients"]);
    } finally {
      await api.stop();
    }
    // A second instance finds nothing to do.
    const again = await startApi(redis.url, { DATABASE_URL: url });
    await again.stop();
    expect(await applied(url)).toEqual(["001_directory", "002_oauth_clients"]);
  });

  it("refuses to start with MIGRATE=off while a migration is pending, naming it, and changes nothing", async () => {
    const url = await postgres.createDatabase("off");
    await expect(startApi(redis.url, { DATABASE_URL: url, MIGRATE: "off" })).rejects.toMatchObject({
      code: "PENDING",
      message: "2 migration(s) pending: 001_directory, 002_oauth_clients. Apply them with npm run migrate (or start with MIGRATE=on)",
    });
    expect(await postgres.query("SELECT to_regclass('schema_migrations') AS t", [], url.split("/").at(-1))).toEqual([{ t: null }]);
  });

  it("waits for a Postgres that is not up yet, and fails at once, naming where, on one that refuses", async () => {
    const url = await postgres.createDatabase("late");
    await postgres.stop();
    let started = false;
    const starting = startApi(redis.url, { DATABASE_URL: url }).then((api) => {
      started = true;
      return api;
    });
    try {
      await new Promise((done) => setTimeout(done, 1000));
      expect(started).toBe(false);
    } finally {
      await postgres.start();
    }
    await (await starting).stop();
    expect(await applied(url)).toEqual(["001_directory", "002_oauth_clients"]);

    const begun = Date.now();
    await expect(startApi(redis.url, { DATABASE_URL: postgres.urlOf("no_such_database") })).rejects.toThrow(
      `cannot reach Postgres at 127.0.0.1:${postgres.port}/no_such_database (DATABASE_URL): database "no_such_database" does not exist`,
    );
    expect(Date.now() - begun).toBeLessThan(5000);
  });

  it("in production, refuses to start while a migration is pending and names it; starts once npm run migrate applied it", async () => {
    const url = await postgres.createDatabase("production");
    const env = testEnv(redis.url, { NODE_ENV: "production", DATABASE_URL: url, MFA_ENCRYPTION_KEY: MFA_KEY, MAIL_URL: "off", LOG_LEVEL: "info" });
    const refused = spawnSync(process.execPath, [ENTRY], { env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 20_000 });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("Failed to start: 2 migration(s) pending: 001_directory, 002_oauth_clients. Apply them with npm run migrate (or start with MIGRATE=on)");

    const migrated = spawnSync(process.execPath, [CLI], { env: { PATH: process.env.PATH ?? "", DATABASE_URL: url }, encoding: "utf8", timeout: 20_000 });
    expect(migrated.status).toBe(0);
    const api = await spawnApi(redis.url, env);
    try {
      expect(api.output()).toContain('"msg":"the Postgres schema is up to date"');
      expect((await fetch(api.url.replace("/graphql", "/healthz"))).status).toBe(200);
    } finally {
      expect(await api.stop()).toBe(0);
    }
  });
});
