import type { Pool, PoolClient } from "pg";
import type { Logger } from "pino";
import { AuthError, directoryUnavailable } from "../../errors";

/**
 * The bounds that make an unreachable Postgres a prompt 503 DIRECTORY_UNAVAILABLE instead of a hang
 * (docs/operations.md#postgres): a connection must open within DIRECTORY_CONNECT_TIMEOUT_MS, and a
 * statement answer within DIRECTORY_STATEMENT_TIMEOUT_MS (Postgres cancels it server-side; the
 * client gives up at the same bound when the server is frozen). A call waits at most their sum.
 */
export const DIRECTORY_CONNECT_TIMEOUT_MS = 2_000;
export const DIRECTORY_STATEMENT_TIMEOUT_MS = 3_000;

/** SQLSTATEs that are the caller's to answer (a taken address), not an outage. */
const UNIQUE_VIOLATION = "23505";
/** serialization_failure, deadlock_detected: the transaction is run again. */
const RETRY_SQLSTATES = new Set(["40001", "40P01"]);
const TRANSACTION_ATTEMPTS = 3;

export type Queryable = Pick<PoolClient, "query">;

/**
 * What the directory's concern files stand on: the pool and the guard that turns any failure to
 * reach or use Postgres into DIRECTORY_UNAVAILABLE (logged here, without the statement's values).
 */
export class PostgresCore {
  constructor(
    readonly pool: Pool,
    readonly logger: Logger,
  ) {}

  /** One call: an AuthError (or a value) passes; anything Postgres threw becomes DIRECTORY_UNAVAILABLE. */
  async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof AuthError) throw error;
      const { name, message, code } = error as { name?: string; message?: string; code?: string };
      this.logger.error({ err: { name, message, code } }, "directory call failed");
      throw directoryUnavailable();
    }
  }

  /** A transaction on one pooled connection; retried on a serialization failure or a deadlock. */
  async transaction<T>(body: (client: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      try {
        await client.query("BEGIN");
        const result = await body(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        if (attempt < TRANSACTION_ATTEMPTS && RETRY_SQLSTATES.has((error as { code?: string }).code ?? "")) continue;
        throw error;
      } finally {
        client.release();
      }
    }
  }
}

export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === UNIQUE_VIOLATION;
}
