import { loadDatabaseConfig } from "../config";
import { createPool, databaseLabel, waitForDatabase } from "../store/postgres/database";
import { migrate, migrationStatus, names, readMigrations } from "../store/postgres/migrations";
import { configOrUsage } from "./config-or-usage";

const USAGE = `Usage: DATABASE_URL=postgres://… npm run migrate
Applies the pending migrations of migrations/ to DATABASE_URL's database, in order, each in a transaction.`;

/**
 * `npm run migrate`: what a deployment runs before starting instances with MIGRATE=off (production's
 * default). Safe beside running instances and other migrators: each migration is applied once.
 */
async function main(args: string[]): Promise<number> {
  const database = configOrUsage(args, USAGE, () => loadDatabaseConfig(process.env));
  if (database === null) return 2;
  const label = databaseLabel(database);
  const pool = createPool(database, { max: 1, applicationName: "revocable-auth-api migrate" });
  try {
    const migrations = readMigrations();
    await waitForDatabase(pool);
    const applied = await migrate(pool, migrations);
    for (const migration of applied) process.stdout.write(`applied ${migration.name}\n`);
    const status = await migrationStatus(pool, migrations);
    const at = status.applied.at(-1)?.name ?? "no migration";
    process.stdout.write(applied.length === 0 ? `nothing to apply: ${label} is at ${at}\n` : `${label} is at ${at}\n`);
    if (status.unknown.length > 0) process.stderr.write(`warning: ${label} has migrations this version does not know: ${names(status.unknown)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`npm run migrate: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await pool.end();
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
