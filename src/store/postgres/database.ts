import { Pool } from "pg";
import type { Logger } from "pino";
import type { DatabaseConfig } from "../../config";
import { migrate, MigrationError, migrationStatus, names, readMigrations, type Migration } from "./migrations";

/** Compose starts Postgres beside the API, and a managed primary may be failing over: wait this long at start. */
const CONNECT_WITHIN_MS = 30_000;
/** One attempt to connect; then the next, until CONNECT_WITHIN_MS. */
const CONNECT_TIMEOUT_MS = 5_000;

export interface PoolOptions {
  /** Connections at most; the pool opens them as queries need them. */
  readonly max: number;
  readonly applicationName?: string;
  /** How long a connection may take to open; CONNECT_TIMEOUT_MS unless given. */
  readonly connectionTimeoutMillis?: number;
  /** Set on each connection (Postgres cancels a longer statement) and the client's own bound on an answer. */
  readonly statementTimeoutMillis?: number;
}

/** A pg pool on DATABASE_URL; pg reads sslmode, sslrootcert, sslcert and sslkey from the URL itself. */
export function createPool(database: DatabaseConfig, options: PoolOptions): Pool {
  const pool = new Pool({
    connectionString: database.url,
    max: options.max,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? CONNECT_TIMEOUT_MS,
    ...(options.statementTimeoutMillis === undefined
      ? {}
      : { statement_timeout: options.statementTimeoutMillis, lock_timeout: options.statementTimeoutMillis, query_timeout: options.statementTimeoutMillis }),
    application_name: options.applicationName ?? "revocable-auth-api",
    keepAlive: true,
  });
  // An idle connection that breaks (a restart, a failover) is dropped by the pool; without a listener, the process would crash.
  pool.on("error", () => undefined);
  return pool;
}

/** Where DATABASE_URL points, without its password, for logs and messages. */
export function databaseLabel(database: DatabaseConfig): string {
  const url = new URL(database.url);
  return `${url.hostname}${url.port ? `:${url.port}` : ""}${url.pathname}`;
}

/**
 * Waits until Postgres answers `SELECT 1`, through what passes (refused, starting up, a name not
 * resolving yet); a wrong password, a missing database or a TLS failure fails at once.
 */
export async function waitForDatabase(pool: Pool, withinMs = CONNECT_WITHIN_MS): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      await pool.query("SELECT 1");
      return;
    } catch (error) {
      if (!passing(error) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

const PASSING_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);
/** cannot_connect_now (starting up, shutting down, in recovery) and too_many_connections. */
const PASSING_SQLSTATES = new Set(["57P03", "53300"]);

function passing(error: unknown): boolean {
  const { code, message = "" } = error as { code?: string; message?: string };
  if (code !== undefined) return PASSING_ERRNOS.has(code) || PASSING_SQLSTATES.has(code);
  return /timeout|Connection terminated/i.test(message);
}

/**
 * Before the API listens, with DATABASE_URL set: MIGRATE=on applies pending migrations (once, even
 * with instances starting together); MIGRATE=off refuses to start while any is pending, naming them.
 * Either way a changed or misnumbered migration refuses the start.
 */
export async function prepareDatabase(database: DatabaseConfig, logger: Logger, migrations: readonly Migration[] = readMigrations()): Promise<void> {
  const pool = createPool(database, { max: 1 });
  try {
    await waitForDatabase(pool).catch((error: Error) => {
      throw new Error(`cannot reach Postgres at ${databaseLabel(database)} (DATABASE_URL): ${error.message}`);
    });
    if (database.migrate) {
      for (const migration of await migrate(pool, migrations)) logger.info({ migration: migration.name }, "applied a migration");
    }
    const status = await migrationStatus(pool, migrations);
    if (status.pending.length > 0) {
      throw new MigrationError(
        "PENDING",
        `${status.pending.length} migration(s) pending: ${names(status.pending)}. Apply them with npm run migrate (or start with MIGRATE=on)`,
      );
    }
    if (status.unknown.length > 0) {
      logger.warn({ migrations: names(status.unknown) }, "the database has migrations this version does not know: it was migrated by a newer version");
    }
    logger.info({ database: databaseLabel(database), schema: status.applied.at(-1)?.name ?? null }, "the Postgres schema is up to date");
  } finally {
    await pool.end();
  }
}
