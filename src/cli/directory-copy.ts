import { Cluster, Redis } from "ioredis";
import { parseArgs } from "node:util";
import pino from "pino";
import { ConfigError, loadDatabaseConfig } from "../config";
import { PostgresCore } from "../store/postgres/core";
import { createPool, databaseLabel, waitForDatabase } from "../store/postgres/database";
import { copyDirectory } from "../store/postgres/directory-copy";
import { migrate, readMigrations } from "../store/postgres/migrations";
import type { RedisClient } from "../store/redis/connection";

const USAGE = `Usage: npm run directory:copy -- --from redis://… --to postgres://…
Copies the directory (users, password hashes, TOTP factors, recovery codes, passkeys, linked
identities, OAuth clients) from a Redis the API ran on without DATABASE_URL (one node, or any node of a Cluster)
into Postgres, applying pending migrations first. Reads Redis only. Users Postgres holds already are
left as they are, so it is safe to run again: a re-run copies the users added since.`;

/** How long either store may take to answer at start, and Redis each command. */
const CONNECT_WITHIN_MS = 10_000;

async function main(argv: string[]): Promise<number> {
  let from: string;
  let to: string;
  try {
    const { values } = parseArgs({ args: argv, options: { from: { type: "string" }, to: { type: "string" } }, strict: true, allowPositionals: false });
    if (!values.from || !values.to || !/^rediss?:\/\//.test(values.from)) throw new Error("--from redis://… and --to postgres://… are required");
    from = values.from;
    to = loadDatabaseConfig({ DATABASE_URL: values.to }).url;
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error);
    process.stderr.write(`${message}\n${USAGE}\n`);
    return 2;
  }
  const database = { url: to, migrate: true };
  const pool = createPool(database, { max: 1, applicationName: "revocable-auth-api directory:copy" });
  let redis: RedisClient | null = null;
  try {
    redis = await connectRedis(from);
    await waitForDatabase(pool, CONNECT_WITHIN_MS);
    for (const migration of await migrate(pool, readMigrations())) process.stdout.write(`applied ${migration.name}\n`);
    const counts = await copyDirectory(redis, new PostgresCore(pool, pino({ level: "silent" })));
    const label = databaseLabel(database);
    process.stdout.write(
      [
        `users copied: ${counts.users}`,
        `users already in ${label}: ${counts.alreadyThere}`,
        `users not copied (address, passkey or identity held by another user in Postgres): ${counts.conflicts.length}${counts.conflicts.length ? ` (${counts.conflicts.join(", ")})` : ""}`,
        `passkeys copied: ${counts.passkeys}`,
        `TOTP factors copied: ${counts.totpFactors}`,
        `recovery codes copied: ${counts.recoveryCodes}`,
        `linked identities copied: ${counts.identities}`,
        `OAuth clients copied: ${counts.clients}`,
        `OAuth clients already in ${label}: ${counts.clientsAlreadyThere}`,
      ].join("\n") + "\n",
    );
    return counts.conflicts.length > 0 ? 1 : 0;
  } catch (error) {
    process.stderr.write(`npm run directory:copy: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    redis?.disconnect();
    await pool.end();
  }
}

/** A node of the URL; when it is a Cluster node, the whole Cluster through it. One attempt: a copy is run by hand. */
async function connectRedis(url: string): Promise<RedisClient> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 0, commandTimeout: CONNECT_WITHIN_MS, connectTimeout: CONNECT_WITHIN_MS, retryStrategy: () => null };
  const node = new Redis(url, options);
  let lastError: Error | null = null;
  node.on("error", (error: Error) => (lastError = error)); // reported below, once
  let cluster: boolean;
  try {
    await node.connect();
    cluster = /^cluster_enabled:1/m.test(await node.info("cluster"));
  } catch (error) {
    node.disconnect();
    throw new Error(`Redis at --from did not answer: ${(lastError ?? (error as Error)).message}`);
  }
  if (!cluster) return node;
  node.disconnect();
  const { hostname, port, username, password } = new URL(url);
  const auth = { ...(username ? { username: decodeURIComponent(username) } : {}), ...(password ? { password: decodeURIComponent(password) } : {}) };
  const tls = url.startsWith("rediss://") ? { tls: {} } : {};
  const client = new Cluster([{ host: hostname, port: Number(port || 6379) }], { lazyConnect: true, clusterRetryStrategy: () => null, redisOptions: { ...options, ...auth, ...tls } });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new Error(`Redis Cluster at --from did not answer: ${(error as Error).message}`);
  }
  return client;
}

let finished = false;
// A client that gave up without settling its promise (a Cluster whose slot map names no address)
// would otherwise end the process with status 0 and nothing printed.
process.on("beforeExit", () => {
  if (finished) return;
  process.stderr.write("npm run directory:copy: Redis stopped answering before the copy finished\n");
  process.exitCode = 1;
});
void main(process.argv.slice(2)).then((code) => {
  finished = true;
  process.exitCode = code;
});
