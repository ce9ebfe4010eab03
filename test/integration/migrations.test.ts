import { randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Pool } from "pg";
import { migrate, MigrationError, migrationStatus, readMigrations, type Migration } from "../../src/store/postgres/migrations";
import { startPostgres, type TestPostgres } from "../support/postgres";
import { ROOT } from "../support/readme";

const CLI = resolve(ROOT, "dist/cli/migrate.js");

let postgres: TestPostgres;
const pools: Pool[] = [];
const dirs: string[] = [];
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await postgres?.destroy();
});

/** A pool on a new database of its own. */
async function freshPool(url?: string): Promise<Pool> {
  const pool = new Pool({ connectionString: url ?? (await postgres.createDatabase("migrations")), max: 3 });
  // pool.end() resolves once its clients are told to end, not once they have: the server's
  // shutdown in afterAll can still reach an idle one (57P01), which must not fail the suite.
  pool.on("error", () => undefined);
  pools.push(pool);
  return pool;
}

/** A migrations folder with these files, name → SQL. */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "auth-api-migrations-"));
  dirs.push(dir);
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

const tables = async (pool: Pool) =>
  (await pool.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")).rows.map((row) => row.name);
const recorded = async (pool: Pool) => (await pool.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")).rows;
const failure = (promise: Promise<unknown>) => promise.then(() => null, (error: unknown) => error as MigrationError);

const TWO = {
  "001_accounts.sql": "CREATE TABLE accounts (id integer PRIMARY KEY);\n",
  // Needs 001's table: only passes when applied after it.
  "002_notes.sql": "CREATE TABLE notes (id integer PRIMARY KEY, account integer NOT NULL REFERENCES accounts (id));\n",
};

describe("migrations", () => {
  it("applies every migration in order, each recorded with its name and checksum", async () => {
    const pool = await freshPool();
    const migrations = readMigrations(folder({ "002_notes.sql": TWO["002_notes.sql"], "001_accounts.sql": TWO["001_accounts.sql"] }));
    expect(migrations.map((m) => m.name)).toEqual(["001_accounts", "002_notes"]);
    expect((await migrate(pool, migrations)).map((m) => m.name)).toEqual(["001_accounts", "002_notes"]);
    expect(await tables(pool)).toEqual(["accounts", "notes", "schema_migrations"]);
    expect(await recorded(pool)).toEqual(migrations.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })));
    expect(migrations[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it("does nothing when run again, and applies only what was added since", async () => {
    const pool = await freshPool();
    const first = readMigrations(folder({ "001_accounts.sql": TWO["001_accounts.sql"] }));
    await migrate(pool, first);
    const { rows: before } = await pool.query("SELECT applied_at FROM schema_migrations");
    expect(await migrate(pool, first)).toEqual([]);
    expect((await pool.query("SELECT applied_at FROM schema_migrations")).rows).toEqual(before);
    const both = readMigrations(folder(TWO));
    expect(await migrationStatus(pool, both)).toMatchObject({ pending: [{ name: "002_notes" }], unknown: [] });
    expect((await migrate(pool, both)).map((m) => m.name)).toEqual(["002_notes"]);
    expect((await migrationStatus(pool, both)).pending).toEqual([]);
  });

  it("applies each migration once when migrators on four pools start together", async () => {
    const url = await postgres.createDatabase("race");
    // Slow, and not idempotent: a second run would fail on the existing table, or count 2.
    const migrations = readMigrations(
      folder({
        "001_counter.sql": "SELECT pg_sleep(0.3); CREATE TABLE runs (migration text); INSERT INTO runs VALUES ('001');",
        "002_again.sql": "SELECT pg_sleep(0.1); INSERT INTO runs VALUES ('002'); CREATE TABLE second (id integer);",
      }),
    );
    const racers = await Promise.all([1, 2, 3, 4].map(() => freshPool(url)));
    const applied = await Promise.all(racers.map((pool) => migrate(pool, migrations)));
    expect(applied.flat().map((m) => m.name).sort()).toEqual(["001_counter", "002_again"]);
    expect((await racers[0]!.query("SELECT migration FROM runs ORDER BY migration")).rows).toEqual([{ migration: "001" }, { migration: "002" }]);
  });

  it("rolls a failing migration back whole, naming its file and line, and keeps the ones before it", async () => {
    const pool = await freshPool();
    const broken = readMigrations(
      folder({ ...TWO, "003_broken.sql": "CREATE TABLE half (id integer);\nINSERT INTO half VALUES (1);\nINSERT INTO nowhere VALUES (1);\n" }),
    );
    const error = await failure(migrate(pool, broken));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error).toMatchObject({ code: "FAILED", message: 'migration 003_broken.sql failed, and nothing of it was applied: relation "nowhere" does not exist (line 3)' });
    expect(await tables(pool)).toEqual(["accounts", "notes", "schema_migrations"]);
    expect((await recorded(pool)).map((row) => row.name)).toEqual(["001_accounts", "002_notes"]);

    const fixed = readMigrations(folder({ ...TWO, "003_broken.sql": "CREATE TABLE half (id integer);\n" }));
    expect((await migrate(pool, fixed)).map((m) => m.name)).toEqual(["003_broken"]);
  });

  it("refuses a migration changed after it was applied, before applying anything else", async () => {
    const pool = await freshPool();
    await migrate(pool, readMigrations(folder({ "001_accounts.sql": TWO["001_accounts.sql"] })));
    const changed = readMigrations(folder({ "001_accounts.sql": "CREATE TABLE accounts (id bigint PRIMARY KEY);\n", "002_notes.sql": TWO["002_notes.sql"] }));
    for (const attempt of [() => migrate(pool, changed), () => migrationStatus(pool, changed)]) {
      const error = await failure(attempt());
      expect(error).toMatchObject({ code: "CHANGED" });
      expect(error?.message).toMatch(/^migration 001_accounts\.sql was changed after it was applied \(as 001_accounts, checksum [0-9a-f]{12}…, now [0-9a-f]{12}…\): restore the file/);
    }
    expect(await tables(pool)).toEqual(["accounts", "schema_migrations"]);
  });

  it("refuses a pending migration numbered below an applied one, and reports applied ones it has no file for", async () => {
    const pool = await freshPool();
    await migrate(pool, readMigrations(folder({ "001_accounts.sql": TWO["001_accounts.sql"], "003_tags.sql": "CREATE TABLE tags (id integer);" })));
    const late = readMigrations(folder({ ...TWO, "003_tags.sql": "CREATE TABLE tags (id integer);" }));
    expect(await failure(migrate(pool, late))).toMatchObject({
      code: "OUT_OF_ORDER",
      message: "migration 002_notes.sql is pending but older than 003_tags, which is applied: give it a version after 3",
    });
    const older = readMigrations(folder({ "001_accounts.sql": TWO["001_accounts.sql"] }));
    expect(await migrate(pool, older)).toEqual([]);
    expect(await migrationStatus(pool, older)).toMatchObject({ pending: [], unknown: [{ version: 3, name: "003_tags" }] });
  });

  it("refuses a misnamed file and two files with one version", () => {
    expect(() => readMigrations(folder({ "1-accounts.sql": "" }))).toThrow(/1-accounts\.sql: a migration is named <version>_<name>\.sql/);
    expect(() => readMigrations(folder({ "001_a.sql": "", "1_b.sql": "" }))).toThrow("001_a.sql and 1_b.sql have the same version 1");
    expect(readMigrations(folder({ "README.md": "not a migration", "001_a.sql": "" })).map((m) => m.name)).toEqual(["001_a"]);
  });
});

describe("the directory schema (migrations/)", () => {
  let pool: Pool;
  let migrations: Migration[];
  beforeAll(async () => {
    // As a role that owns its database and is no superuser: what docs/operations.md asks of a deployment.
    await postgres.query("CREATE ROLE directory_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE");
    await postgres.query("CREATE DATABASE directory OWNER directory_owner");
    // Postgres 15 and later: only the owner may create in the public schema.
    await postgres.query("ALTER SCHEMA public OWNER TO directory_owner", [], "directory");
    pool = await freshPool(postgres.urlOf("directory", "directory_owner"));
    migrations = readMigrations();
  });

  const user = (email: string, extra: Record<string, unknown> = {}) => {
    const columns = { id: randomUUID(), email, password_hash: "$argon2id$v=19$m=19456,t=2,p=1$x$y", ...extra };
    const names = Object.keys(columns);
    return pool.query(`INSERT INTO users (${names.join(", ")}) VALUES (${names.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING id`, Object.values(columns));
  };

  it("applies as a role that owns its database, without being a superuser", async () => {
    expect(migrations.map((m) => m.name)).toEqual(["001_directory", "002_oauth_clients"]);
    expect((await migrate(pool, migrations)).map((m) => m.name)).toEqual(["001_directory", "002_oauth_clients"]);
    expect(await tables(pool)).toEqual(["directory_outbox", "linked_identities", "oauth_clients", "passkeys", "recovery_codes", "schema_migrations", "totp_factors", "users"]);
  });

  it("holds one account per address whatever its case, and only the roles the API knows", async () => {
    await user("ada@example.com");
    await expect(user("ADA@example.com")).rejects.toMatchObject({ code: "23505", constraint: "users_email_key" });
    await expect(user("eve@example.com", { roles: ["USER", "ROOT"] })).rejects.toMatchObject({ code: "23514", constraint: "users_roles_known" });
    const { rows } = await pool.query("SELECT roles, disabled, email_verified, access_version FROM users WHERE lower(email) = $1", ["ada@example.com"]);
    expect(rows).toEqual([{ roles: ["USER"], disabled: false, email_verified: false, access_version: "1" }]);
  });

  it("keeps credentials with their user: removing the user removes them, but not the outbox's rows", async () => {
    const { rows } = await user("grace@example.com", { password_hash: null });
    const id = rows[0]!.id as string;
    await pool.query("INSERT INTO totp_factors (user_id, sealed_secret, last_step) VALUES ($1, 'sealed', 0)", [id]);
    await pool.query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, 'h1'), ($1, 'h2')", [id]);
    await pool.query("INSERT INTO passkeys (credential_id, user_id, name, public_key, transports) VALUES ('cred', $1, 'Phone', 'pk', ARRAY['internal'])", [id]);
    await pool.query("INSERT INTO linked_identities (provider, subject, user_id) VALUES ('https://accounts.example.com', 'sub-1', $1)", [id]);
    await pool.query("INSERT INTO directory_outbox (user_id, access_version, kind) VALUES ($1, 2, 'access')", [id]);
    await pool.query("DELETE FROM users WHERE id = $1", [id]);
    for (const table of ["totp_factors", "recovery_codes", "passkeys", "linked_identities"]) {
      expect((await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE user_id = $1`, [id])).rows).toEqual([{ n: 0 }]);
    }
    expect((await pool.query("SELECT kind FROM directory_outbox WHERE user_id = $1", [id])).rows).toEqual([{ kind: "access" }]);
  });

  it("has the indexes the admin queries need: keyset paging on (created_at, id), email search by trigram", async () => {
    const { rows } = await pool.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE tablename = 'users' ORDER BY indexname");
    expect(rows.map((row) => row.indexdef.replace(/ ON public\.users/, ""))).toEqual(
      expect.arrayContaining([
        "CREATE INDEX users_created_at_id USING btree (created_at, id)",
        "CREATE INDEX users_email_trgm USING gin (email gin_trgm_ops)",
        "CREATE UNIQUE INDEX users_email_key USING btree (lower(email))",
      ]),
    );
  });
});

describe("an owner that migrates and a role that only reads and writes rows (docs/operations.md#roles-no-superuser)", () => {
  it("lets the narrower role use every table the owner's migrations create, and nothing more", async () => {
    for (const sql of [
      "CREATE ROLE split_owner LOGIN",
      "CREATE ROLE split_api LOGIN",
      "CREATE DATABASE split OWNER split_owner",
      "GRANT CONNECT ON DATABASE split TO split_api",
    ]) {
      await postgres.query(sql);
    }
    await postgres.query("ALTER SCHEMA public OWNER TO split_owner", [], "split");
    const owner = await freshPool(postgres.urlOf("split", "split_owner"));
    for (const sql of [
      "GRANT USAGE ON SCHEMA public TO split_api",
      "ALTER DEFAULT PRIVILEGES FOR ROLE split_owner IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO split_api",
      "ALTER DEFAULT PRIVILEGES FOR ROLE split_owner IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO split_api",
    ]) {
      await owner.query(sql);
    }
    await migrate(owner, readMigrations());

    const api = await freshPool(postgres.urlOf("split", "split_api"));
    expect(await migrationStatus(api, readMigrations())).toMatchObject({ pending: [], unknown: [] });
    const { rows } = await api.query("INSERT INTO users (id, email) VALUES ($1, 'split@example.com') RETURNING email", [randomUUID()]);
    expect(rows).toEqual([{ email: "split@example.com" }]);
    await api.query("INSERT INTO directory_outbox (user_id, access_version, kind) VALUES ($1, 1, 'access')", [randomUUID()]);
    await expect(api.query("DROP TABLE directory_outbox")).rejects.toMatchObject({ code: "42501" });
    await expect(migrate(api, readMigrations(folder({ "002_more.sql": "CREATE TABLE more (id integer);" })))).rejects.toThrow(/permission denied/);
  });
});

describe("npm run migrate", () => {
  /** `command` with only these variables (and PATH, HOME), collecting its output. */
  function exec(command: string, args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(command, args, { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((done) => child.on("close", (status) => done({ status, stdout, stderr })));
  }
  /** dist/cli/migrate.js, which `npm run migrate` runs once built. */
  const run = (env: Record<string, string>) => exec(process.execPath, [CLI], env);
  const at = (url: string) => `127.0.0.1:${postgres.port}/${url.split("/").at(-1)}`;

  it("applies the migrations to DATABASE_URL as written, needing no other variable, even in production", async () => {
    const url = await postgres.createDatabase("npm");
    const npm = await exec("npm", ["run", "--silent", "migrate"], { DATABASE_URL: url, NODE_ENV: "production" });
    expect(npm).toEqual({ status: 0, stdout: `applied 001_directory\napplied 002_oauth_clients\n${at(url)} is at 002_oauth_clients\n`, stderr: "" });
    expect(await run({ DATABASE_URL: url })).toEqual({ status: 0, stdout: `nothing to apply: ${at(url)} is at 002_oauth_clients\n`, stderr: "" });
  });

  it("applies each migration once when run twice at the same moment", async () => {
    const url = await postgres.createDatabase("cli");
    const [first, second] = await Promise.all([run({ DATABASE_URL: url }), run({ DATABASE_URL: url })]);
    expect([first.status, second.status, first.stderr + second.stderr]).toEqual([0, 0, ""]);
    expect((first.stdout + second.stdout).match(/^applied 001_directory$/gm)).toHaveLength(1);
    expect((first.stdout + second.stdout).match(/^applied 002_oauth_clients$/gm)).toHaveLength(1);
    expect(await postgres.query("SELECT name FROM schema_migrations ORDER BY version", [], url.split("/").at(-1))).toEqual([{ name: "001_directory" }, { name: "002_oauth_clients" }]);
  });

  it("exits 2 without a DATABASE_URL, or with one that is not Postgres, and 1 when the database refuses, never printing the password", async () => {
    const missing = await run({});
    expect(missing).toMatchObject({ status: 2, stdout: "" });
    expect(missing.stderr).toContain("DATABASE_URL is required");
    expect(await run({ DATABASE_URL: "mysql://root:hunter2@db/auth" })).toMatchObject({ status: 2, stderr: expect.stringContaining("DATABASE_URL must be a postgres:// or postgresql:// URL") });
    const nowhere = await run({ DATABASE_URL: `postgres://postgres:hunter2@127.0.0.1:${postgres.port}/no_such_database` });
    expect(nowhere.status).toBe(1);
    expect(nowhere.stderr).toContain('npm run migrate: database "no_such_database" does not exist');
    expect(nowhere.stderr + nowhere.stdout).not.toContain("hunter2");
  });
});
