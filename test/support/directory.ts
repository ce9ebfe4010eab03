import { runEnv } from "./api";
import { startPostgres, type TestPostgres } from "./postgres";

/**
 * Suites run a second time with the directory in Postgres (issue 32), unchanged: a thin wrapper
 * (test/integration/<suite>.postgres.test.ts) imports "../support/on-postgres" and then the suite.
 * In that run every API a suite starts on a Redis (testEnv) also gets a DATABASE_URL: one
 * database per Redis, so instances sharing a Redis share a directory, as in production. Blocks
 * that do not touch the directory (throttles, the embedded store, mail outages) are declared with
 * `describeOnce` and run in the suite's own file only, to keep CI time down.
 */
let postgresRun = false;
let postgres: TestPostgres | null = null;
const spare: string[] = [];
const byRedis = new Map<string, string>();
/** Databases made ahead: testEnv is synchronous, and no suite starts APIs on more Redis servers than this. */
const DATABASES = 4;

/** Called once by on-postgres.ts, before the suite is imported. */
export function runOnPostgres(): void {
  postgresRun = true;
  runEnv.forRedis = directoryEnv;
  beforeAll(async () => {
    postgres = await startPostgres();
    spare.push(...(await Promise.all(Array.from({ length: DATABASES }, () => postgres!.createDatabase("suite")))));
  }, 60_000);
  afterAll(async () => {
    await postgres?.destroy();
  });
}

/** DATABASE_URL for an API on this Redis in a Postgres run. */
function directoryEnv(redisUrl: string): Record<string, string> {
  let url = byRedis.get(redisUrl);
  if (url === undefined) {
    url = spare.shift();
    if (url === undefined) throw new Error(`a Postgres run of this suite starts APIs on more than ${DATABASES} Redis servers: raise DATABASES`);
    byRedis.set(redisUrl, url);
  }
  return { DATABASE_URL: url };
}

/** `describe` in the suite's own run; skipped in its Postgres run (the block does not touch the directory). */
export function describeOnce(name: string, body: () => void): void {
  (postgresRun ? describe.skip : describe)(name, body);
}

/** `it` in the suite's own run; skipped in its Postgres run (the test writes the Redis directory's keys itself). */
export function itOnce(name: string, body: () => Promise<void>): void {
  (postgresRun ? it.skip : it)(name, body);
}
