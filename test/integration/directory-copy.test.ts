import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import pino from "pino";
import { LoginDocument, MeDocument } from "../../schema/generated/graphql";
import { loadConfig } from "../../src/config";
import { connectRedisStore, type RedisStore } from "../../src/store/redis/redis-store";
import { startApi, testEnv } from "../support/api";
import { startCluster } from "../support/cluster";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startPostgres, type TestPostgres } from "../support/postgres";
import { startRedis, type TestRedis } from "../support/redis";

const ROOT = resolve(__dirname, "../..");
/** dist/cli/directory-copy.js, which `npm run directory:copy` runs once built. */
const CLI = resolve(ROOT, "dist/cli/directory-copy.js");

function copy(from: string, to: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, "--from", from, "--to", to], { env: { PATH: process.env.PATH ?? "" }, cwd: ROOT });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on("close", (status) => done({ status, stdout, stderr })));
}

const counted = (stdout: string) => Object.fromEntries([...stdout.matchAll(/^(.+?): (\d+)/gm)].map(([, what, n]) => [what!.replace(/ in \S+$/, ""), Number(n)]));

let postgres: TestPostgres;
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.destroy();
});

/** A user with every kind of credential, written through the Redis store as a Redis-only API would. */
async function seedFullUser(store: RedisStore) {
  const user = { id: randomUUID(), email: uniqueEmail("full"), roles: ["USER", "ADMIN"] as const, createdAt: Date.now(), disabled: false, emailVerified: true };
  expect(await store.createUser({ ...user, roles: [...user.roles] }, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")).toBe(true);
  await store.saveTotpEnrolment(user.id, "sealed-secret", Date.now() + 60_000);
  expect(await store.enableTotp({ userId: user.id, sealedSecret: "sealed-secret", acceptedStep: 42, recoveryCodeHashes: ["code-1", "code-2"] })).toBe("enabled");
  const passkey = { id: `cred-${user.id}`, userId: user.id, name: "Laptop", publicKey: "pk", counter: 3, transports: ["internal"], backupEligible: true, backedUp: false, createdAt: Date.now(), lastUsedAt: null };
  expect(await store.addPasskey(passkey, 10)).toBe("added");
  expect(await store.linkIdentity({ id: randomUUID(), provider: "https://idp.example", subject: `sub-${user.id}`, userId: user.id, email: null, linkedAt: Date.now() })).toBe("linked");
  return user;
}

/** A Redis to copy from, the environment an API on it takes, and a URL of one of its nodes for --from. */
interface Source {
  readonly env: Record<string, string>;
  readonly from: string;
  destroy(): Promise<void>;
}

describe.each([
  ["one redis-server", async (): Promise<Source> => {
    const redis = await startRedis();
    return { env: { REDIS_URL: redis.url }, from: redis.url, destroy: () => redis.destroy() };
  }],
  ["a Redis Cluster (3 masters, 3 replicas)", async (): Promise<Source> => {
    const cluster = await startCluster();
    return { env: cluster.env, from: `redis://${cluster.nodes[0]!.address}`, destroy: () => cluster.destroy() };
  }],
])("npm run directory:copy from %s", (_, start) => {
  let source: Source;
  beforeAll(async () => {
    source = await start();
  }, 60_000);
  afterAll(async () => {
    await source?.destroy();
  });

  it("copies users and their credentials, prints counts, and copies nothing twice when run again", async () => {
    const redis = loadConfig(testEnv(null, source.env)).redis!;
    const store = await connectRedisStore({ redis, timeoutMs: 2000, connectWithinMs: 10_000, logger: pino({ level: "silent" }) });
    const full = await seedFullUser(store);
    const plain = { id: randomUUID(), email: uniqueEmail("plain"), roles: ["USER" as const], createdAt: Date.now(), disabled: true };
    expect(await store.createUser(plain, "$argon2id$plain")).toBe(true);
    const clients = [
      { clientId: `pub-${randomUUID()}`, name: "SPA", redirectUris: ["https://spa.example/cb"], grantTypes: ["authorization_code", "refresh_token"], scopes: ["openid", "email"], public: true, backchannelLogoutUri: null, requireMfa: false, secretHash: null, createdAt: Date.now() },
      { clientId: `conf-${randomUUID()}`, name: "Backend", redirectUris: ["https://app.example/cb"], grantTypes: ["authorization_code"], scopes: ["openid"], public: false, backchannelLogoutUri: "https://app.example/logout", requireMfa: true, secretHash: "c2VjcmV0LWhhc2g", createdAt: Date.now() },
    ];
    for (const client of clients) expect(await store.createOAuthClient(client)).toBe(true);
    await store.close();
    const url = await postgres.createDatabase("copy");
    const db = url.split("/").at(-1);

    const first = await copy(source.from, url);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^applied 001_directory$/m);
    expect(counted(first.stdout)).toMatchObject({
      "users copied": 2,
      "users already": 0,
      "passkeys copied": 1,
      "TOTP factors copied": 1,
      "recovery codes copied": 2,
      "linked identities copied": 1,
      "OAuth clients copied": 2,
      "OAuth clients already": 0,
    });
    const rows = await postgres.query<{ id: string; email: string; roles: string[]; disabled: boolean; mfa_enabled: boolean | null; email_verified: boolean; password_hash: string }>(
      "SELECT id::text, email, roles, disabled, mfa_enabled, email_verified, password_hash FROM users ORDER BY created_at", [], db);
    expect(rows).toEqual([
      { id: full.id, email: full.email, roles: ["USER", "ADMIN"], disabled: false, mfa_enabled: true, email_verified: true, password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA" },
      { id: plain.id, email: plain.email, roles: ["USER"], disabled: true, mfa_enabled: null, email_verified: false, password_hash: "$argon2id$plain" },
    ]);
    expect(await postgres.query("SELECT sealed_secret, last_step::int FROM totp_factors WHERE user_id = $1", [full.id], db)).toEqual([{ sealed_secret: "sealed-secret", last_step: 42 }]);
    expect(await postgres.query("SELECT code_hash FROM recovery_codes WHERE user_id = $1 ORDER BY 1", [full.id], db)).toEqual([{ code_hash: "code-1" }, { code_hash: "code-2" }]);
    expect(await postgres.query("SELECT credential_id, name, counter::int FROM passkeys", [], db)).toEqual([{ credential_id: `cred-${full.id}`, name: "Laptop", counter: 3 }]);
    expect(await postgres.query("SELECT subject FROM linked_identities", [], db)).toEqual([{ subject: `sub-${full.id}` }]);
    const clientRows = await postgres.query(
      `SELECT client_id, name, redirect_uris, grant_types, scopes, public, backchannel_logout_uri, require_mfa, secret_hash,
              round(extract(epoch FROM created_at) * 1000)::bigint::text AS created_at FROM oauth_clients ORDER BY client_id`, [], db);
    expect(clientRows).toEqual(
      [...clients].sort((a, b) => (a.clientId < b.clientId ? -1 : 1)).map((c) => ({
        client_id: c.clientId, name: c.name, redirect_uris: c.redirectUris, grant_types: c.grantTypes, scopes: c.scopes, public: c.public,
        backchannel_logout_uri: c.backchannelLogoutUri, require_mfa: c.requireMfa, secret_hash: c.secretHash, created_at: String(c.createdAt),
      })),
    );

    // A passkey removed in Postgres after the cut-over is not put back by a re-run.
    await postgres.query("DELETE FROM passkeys", [], db);
    const again = await copy(source.from, url);
    expect([again.status, again.stderr]).toEqual([0, ""]);
    expect(again.stdout).not.toMatch(/^applied/m);
    expect(counted(again.stdout)).toMatchObject({ "users copied": 0, "users already": 2, "passkeys copied": 0, "OAuth clients copied": 0, "OAuth clients already": 2 });
    expect(await postgres.query("SELECT count(*)::int AS n FROM oauth_clients", [], db)).toEqual([{ n: 2 }]);
    expect(await postgres.query("SELECT count(*)::int AS n FROM passkeys", [], db)).toEqual([{ n: 0 }]);
    expect(await postgres.query("SELECT count(*)::int AS n FROM users", [], db)).toEqual([{ n: 2 }]);
  });
});

describe("the cut-over with npm run directory:copy", () => {
  it("keeps every token working and every password signing in once the API restarts with DATABASE_URL on the same Redis", async () => {
    const redis = await startRedis();
    try {
      const before = await startApi(redis.url);
      const user = await register(before.url);
      const registeredLater = uniqueEmail("later");
      await before.stop();
      const url = await postgres.createDatabase("cutover");
      const copied = await copy(redis.url, url);
      expect([copied.status, copied.stderr, counted(copied.stdout)["users copied"]]).toEqual([0, "", 1]);

      const after = await startApi(redis.url, { DATABASE_URL: url });
      try {
        expect((await send(after.url, MeDocument, {}, { token: user.accessToken })).data?.me.id).toBe(user.user.id);
        expect((await login(after.url, user.user.email)).user.id).toBe(user.user.id);
        // Redis no longer holds the hash: the replay of the copy's outbox rows wrote the fingerprint.
        expect(await redis.client.get(`auth:{u:${user.user.id}}:password`)).not.toMatch(/^\$argon2/);
        expect((await register(after.url, { email: registeredLater })).user.email).toBe(registeredLater);
        expect((await send(after.url, LoginDocument, { input: { email: user.user.email, password: "wrong password!" } })).error).toBeDefined();
      } finally {
        await after.stop();
      }
      // Run against the Redis of a Postgres directory, it refuses: what it would copy are fingerprints.
      const refused = await copy(redis.url, await postgres.createDatabase("wrong"));
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/not a password hash: this Redis already serves a Postgres directory/);
    } finally {
      await redis.destroy();
    }
  });

  it("exits 2 with the usage when --from or --to is missing or wrong", async () => {
    for (const [from, to] of [["", "postgres://x@127.0.0.1/db"], ["redis://127.0.0.1:1", "mysql://x"], ["http://x", "postgres://x@127.0.0.1/db"]]) {
      const run = await copy(from!, to!);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/Usage: npm run directory:copy -- --from redis:\/\/… --to postgres:\/\/…/);
    }
  });
});
