import pino from "pino";
import { loadDirectoryStoresConfig } from "../config";
import { PostgresCore } from "../store/postgres/core";
import { createPool, databaseLabel, waitForDatabase } from "../store/postgres/database";
import { resyncAccessRecords } from "../store/postgres/directory-resync";
import { migrationStatus, names, readMigrations } from "../store/postgres/migrations";
import { redisDirectoryHotState } from "../store/redis/access-record";
import { connectRedisStore, type RedisStore } from "../store/redis/redis-store";
import { configOrUsage } from "./config-or-usage";

const USAGE = `Usage: DATABASE_URL=postgres://… REDIS_URL=redis://… npm run directory:resync
(or REDIS_CLUSTER_NODES / REDIS_SENTINELS, with REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS: the API's own variables)
Writes every user's access record in Redis again from Postgres, whatever version Redis holds, and
ends the sessions of users Postgres has disabled or Redis held newer (listed by id). Required
after any restore of Postgres, and after Redis lost data. Safe to run again, and beside running instances.`;

/** How long either store may take to answer at start, and Redis each command. */
const CONNECT_WITHIN_MS = 10_000;

async function main(args: string[]): Promise<number> {
  const config = configOrUsage(args, USAGE, () => loadDirectoryStoresConfig(process.env));
  if (config === null) return 2;
  const logger = pino({ level: "silent" });
  const pool = createPool(config.database, { max: 1, applicationName: "revocable-auth-api directory:resync" });
  let redis: RedisStore | null = null;
  try {
    await waitForDatabase(pool, CONNECT_WITHIN_MS);
    // A schema this version does not have yet would be read wrong: the API's own start refuses it too.
    const { pending } = await migrationStatus(pool, readMigrations());
    if (pending.length > 0) throw new Error(`${pending.length} migration(s) pending: ${names(pending)}. Apply them with npm run migrate first`);
    redis = await connectRedisStore({ redis: config.redis, timeoutMs: CONNECT_WITHIN_MS, connectWithinMs: CONNECT_WITHIN_MS, logger });
    const counts = await resyncAccessRecords(new PostgresCore(pool, logger), redisDirectoryHotState(redis.core));
    process.stdout.write(
      [
        `access records written from ${databaseLabel(config.database)}: ${counts.users}`,
        `of them, Redis held a newer version (Postgres was restored): ${counts.behind}`,
        `sessions ended of users Postgres has disabled or Redis held newer: ${counts.sessionsEnded}`,
        ...counts.behindUsers.map((id) => `held newer in Redis, review its audit trail since the restore point: ${id}`),
      ].join("\n") + "\n",
    );
    return 0;
  } catch (error) {
    process.stderr.write(`npm run directory:resync: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await redis?.close().catch(() => undefined);
    await pool.end();
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
