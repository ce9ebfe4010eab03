import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Pool, PoolClient } from "pg";

/** migrations/ at the repository's root, beside src/ and dist/ alike (the image copies it there too). */
export const MIGRATIONS_DIR = resolve(__dirname, "../../../migrations");

/** The table that records what was applied; in the first schema of the connection's search_path. */
const TABLE = "schema_migrations";

/**
 * Every migration takes this transaction-level advisory lock first, so instances that start together
 * apply each migration once: the others wait, then find it applied. A transaction lock (not a session
 * one) is released by COMMIT or ROLLBACK, even behind a pooler that hands out connections per transaction.
 */
const LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('revocable-auth-api schema migrations', 0))";

/** One file of migrations/: `<version>_<name>.sql`, e.g. 001_directory.sql. */
export interface Migration {
  readonly version: number;
  /** The file name without `.sql`: 001_directory. */
  readonly name: string;
  readonly sql: string;
  /** SHA-256 of the file, hex: recorded when applied, compared at every start. */
  readonly checksum: string;
}

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  readonly appliedAt: Date;
}

export interface MigrationStatus {
  readonly applied: readonly AppliedMigration[];
  /** In migrations/ and not applied yet, in order. */
  readonly pending: readonly Migration[];
  /** Applied by a newer version of the API: this one has no file for them. */
  readonly unknown: readonly AppliedMigration[];
}

export type MigrationErrorCode =
  /** A file of migrations/ is misnamed, or two share a version. */
  | "INVALID"
  /** An applied migration's file changed since: the database may not be what the file says. */
  | "CHANGED"
  /** A pending migration is older than one already applied (two branches numbered theirs alike). */
  | "OUT_OF_ORDER"
  /** A migration's SQL failed; its transaction rolled back, leaving nothing of it. */
  | "FAILED"
  /** MIGRATE=off and migrations are pending: the schema is older than this code. */
  | "PENDING";

export class MigrationError extends Error {
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "MigrationError";
  }
}

const FILE_NAME = /^(\d+)_([a-z0-9_]+)\.sql$/;

/** The migrations in `dir`, by version; every .sql file must be named `<version>_<name>.sql`. */
export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((file) => file.endsWith(".sql"));
  const migrations = files.map((file): Migration => {
    const match = FILE_NAME.exec(file);
    if (!match) throw new MigrationError("INVALID", `${join(dir, file)}: a migration is named <version>_<name>.sql, in lower case (001_directory.sql)`);
    const bytes = readFileSync(join(dir, file));
    return { version: Number(match[1]), name: file.slice(0, -".sql".length), sql: bytes.toString("utf8"), checksum: createHash("sha256").update(bytes).digest("hex") };
  });
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    const [before, after] = [migrations[i - 1]!, migrations[i]!];
    if (before.version === after.version) throw new MigrationError("INVALID", `${before.name}.sql and ${after.name}.sql have the same version ${after.version}`);
  }
  return migrations;
}

/** What is applied and what is pending, without changing anything (MIGRATE=off needs no lock). */
export async function migrationStatus(pool: Pool, migrations: readonly Migration[]): Promise<MigrationStatus> {
  const { rows } = await pool.query<{ exists: boolean }>("SELECT to_regclass($1) IS NOT NULL AS exists", [TABLE]);
  const applied = rows[0]!.exists ? await readApplied(pool) : [];
  return compare(applied, migrations);
}

/**
 * Applies every pending migration, in order, each in its own transaction under the lock; resolves
 * with those this call applied (none when another instance got there first). A failing migration
 * rolls back whole and stops the run: the ones before it stay applied.
 */
export async function migrate(pool: Pool, migrations: readonly Migration[]): Promise<Migration[]> {
  const applied: Migration[] = [];
  for (;;) {
    const next = await applyNext(pool, migrations);
    if (next === null) return applied;
    applied.push(next);
  }
}

/** One transaction: take the lock, read the table afresh, apply the first pending migration (if any). */
async function applyNext(pool: Pool, migrations: readonly Migration[]): Promise<Migration | null> {
  const client = await pool.connect();
  let failed = false;
  try {
    await client.query("BEGIN");
    await client.query(LOCK);
    await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const next = compare(await readApplied(client), migrations).pending[0];
    if (next !== undefined) {
      await client.query(next.sql).catch((error: unknown) => {
        throw new MigrationError("FAILED", `migration ${next.name}.sql failed, and nothing of it was applied: ${describe(error, next.sql)}`);
      });
      await client.query(`INSERT INTO ${TABLE} (version, name, checksum) VALUES ($1, $2, $3)`, [next.version, next.name, next.checksum]);
    }
    await client.query("COMMIT");
    return next ?? null;
  } catch (error) {
    failed = true;
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    // A connection whose ROLLBACK failed may be in any state: the pool must not hand it out again.
    client.release(failed);
  }
}

async function readApplied(client: Pool | PoolClient): Promise<AppliedMigration[]> {
  const { rows } = await client.query<{ version: number; name: string; checksum: string; applied_at: Date }>(
    `SELECT version, name, checksum, applied_at FROM ${TABLE} ORDER BY version`,
  );
  return rows.map((row) => ({ version: row.version, name: row.name, checksum: row.checksum, appliedAt: row.applied_at }));
}

/** Pending and unknown migrations; a changed file or one numbered below an applied one is an error. */
function compare(applied: readonly AppliedMigration[], migrations: readonly Migration[]): MigrationStatus {
  const byVersion = new Map(applied.map((migration) => [migration.version, migration]));
  for (const migration of migrations) {
    const recorded = byVersion.get(migration.version);
    if (recorded && recorded.checksum !== migration.checksum) {
      throw new MigrationError(
        "CHANGED",
        `migration ${migration.name}.sql was changed after it was applied (as ${recorded.name}, checksum ${recorded.checksum.slice(0, 12)}…, now ${migration.checksum.slice(0, 12)}…): restore the file and put the change in a new migration`,
      );
    }
  }
  const pending = migrations.filter((migration) => !byVersion.has(migration.version));
  const newest = applied.at(-1);
  const early = pending.find((migration) => newest !== undefined && migration.version < newest.version);
  if (early && newest) {
    throw new MigrationError("OUT_OF_ORDER", `migration ${early.name}.sql is pending but older than ${newest.name}, which is applied: give it a version after ${newest.version}`);
  }
  const known = new Set(migrations.map((migration) => migration.version));
  return { applied, pending, unknown: applied.filter((migration) => !known.has(migration.version)) };
}

/** Postgres's message, with the line of the migration it points at when it says. */
function describe(error: unknown, sql: string): string {
  const { message, position } = error as { message?: string; position?: string };
  const text = message ?? String(error);
  if (!position) return text;
  const line = sql.slice(0, Number(position) - 1).split("\n").length;
  return `${text} (line ${line})`;
}

/** The names of `migrations`, for a message: "001_directory, 002_clients". */
export function names(migrations: readonly { readonly name: string }[]): string {
  return migrations.map((migration) => migration.name).join(", ");
}
