import { keys } from "@revocable-auth/verifier/internal";
import type { OAuthClientRecord } from "../ports/oauth-clients";
import type { LinkedIdentity, PasskeyRecord, UserRecord } from "../store";
import type { RedisClient } from "../redis/connection";
import { isUniqueViolation, type PostgresCore, type Queryable } from "./core";
import { recordChange } from "./outbox";
import { MS_TO_TIMESTAMP } from "./rows";

/**
 * `npm run directory:copy` (src/cli/directory-copy.ts): a Redis-held directory into Postgres, for the
 * cut-over to DATABASE_URL (docs/operations.md#moving-a-redis-directory-to-postgres).
 *
 * Reads Redis only; each user is one Postgres transaction: the row, its password hash, TOTP factor,
 * recovery codes, passkeys and linked identities, and an outbox row. A user already in Postgres is
 * left as it is, credentials and all: once the API runs on Postgres, Postgres is the truth, so a
 * re-run copies only the users added since and never puts back a removed passkey or an old
 * password. The outbox row (at Redis' access version + 1) makes the first API start with
 * DATABASE_URL write each copied user's access record as a Postgres directory keeps it (the
 * password's fingerprint, not its hash). The OAuth clients registered with the API as a provider
 * are directory state too: copied the same way, a client Postgres holds already left as it is.
 */
export interface CopyCounts {
  /** Users written to Postgres by this run. */
  readonly users: number;
  /** Users Postgres held already (an earlier run, or made since the cut-over): left unchanged. */
  readonly alreadyThere: number;
  /**
   * Users not copied because Postgres holds their address, a passkey or a linked identity under
   * another user: listed by id, to settle by hand. Nothing of such a user is written.
   */
  readonly conflicts: readonly string[];
  readonly passkeys: number;
  readonly totpFactors: number;
  readonly recoveryCodes: number;
  readonly identities: number;
  /** OAuth clients written to Postgres by this run. */
  readonly clients: number;
  /** OAuth clients Postgres held already: left unchanged. */
  readonly clientsAlreadyThere: number;
}

/** Users read from the index per step; each user's keys are then read in one pipeline on its slot. */
const CHUNK = 200;

interface RedisUser {
  readonly user: UserRecord;
  readonly passwordHash: string | null;
  readonly accessVersion: number;
  readonly totp: { sealedSecret: string; lastStep: number } | null;
  readonly recoveryCodes: readonly string[];
  readonly passkeys: readonly PasskeyRecord[];
  readonly identities: readonly LinkedIdentity[];
}

export async function copyDirectory(redis: RedisClient, pg: PostgresCore): Promise<CopyCounts> {
  const counts = { users: 0, alreadyThere: 0, conflicts: [] as string[], passkeys: 0, totpFactors: 0, recoveryCodes: 0, identities: 0, clients: 0, clientsAlreadyThere: 0 };
  // Users are never deleted and the index is ordered by createdAt: ranks only grow, so a user
  // registered meanwhile is read at the end or by the next run.
  for (let start = 0; ; start += CHUNK) {
    const ids = await redis.zrange(keys.users(), String(start), String(start + CHUNK - 1));
    for (const id of ids) {
      const read = await readUser(redis, id);
      if (read === null) continue; // a register that never completed: its record expired
      const outcome = await pg.transaction((client) => writeUser(client, read)).catch((error: unknown) => {
        if (isUniqueViolation(error)) return "conflict" as const;
        throw error;
      });
      if (outcome === "already_there") counts.alreadyThere++;
      else if (outcome === "conflict") counts.conflicts.push(id);
      else {
        counts.users++;
        counts.passkeys += read.passkeys.length;
        counts.totpFactors += read.totp ? 1 : 0;
        counts.recoveryCodes += read.totp ? read.recoveryCodes.length : 0;
        counts.identities += read.identities.length;
      }
    }
    if (ids.length < CHUNK) break;
  }
  Object.assign(counts, await copyOAuthClients(redis, pg));
  return counts;
}

/**
 * The index and every record are on the `{directory}` slot: one MGET a chunk, on a Cluster too. By
 * id, so a client registered meanwhile is read in its place or by the next run.
 */
async function copyOAuthClients(redis: RedisClient, pg: PostgresCore): Promise<Pick<CopyCounts, "clients" | "clientsAlreadyThere">> {
  const counts = { clients: 0, clientsAlreadyThere: 0 };
  for (let after: string | null = null; ; ) {
    const ids: string[] = await redis.zrangebylex(keys.oauthClients(), after === null ? "-" : `(${after}`, "+", "LIMIT", 0, CHUNK);
    if (ids.length === 0) break;
    const records = (await redis.mget(ids.map((id) => keys.oauthClient(id)))).filter((raw): raw is string => raw !== null);
    for (const client of records.map((raw) => JSON.parse(raw) as OAuthClientRecord)) {
      const { rowCount } = await pg.pool.query(
        `INSERT INTO oauth_clients (client_id, name, redirect_uris, grant_types, scopes, public, backchannel_logout_uri, require_mfa, secret_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ${MS_TO_TIMESTAMP("$10")}) ON CONFLICT (client_id) DO NOTHING`,
        [client.clientId, client.name, client.redirectUris, client.grantTypes, client.scopes, client.public, client.backchannelLogoutUri ?? null, client.requireMfa === true, client.secretHash ?? null, client.createdAt],
      );
      if (rowCount === 1) counts.clients++;
      else counts.clientsAlreadyThere++;
    }
    if (ids.length < CHUNK) break;
    after = ids[ids.length - 1]!;
  }
  return counts;
}

/** Every key of the user, on the user's slot: one pipeline, valid on a Cluster too. */
async function readUser(redis: RedisClient, id: string): Promise<RedisUser | null> {
  const replies = (await redis
    .pipeline()
    .get(keys.user(id))
    .get(keys.password(id))
    .get(keys.accessVersion(id))
    .get(keys.totp(id))
    .smembers(keys.recoveryCodes(id))
    .hgetall(keys.passkeys(id))
    .hgetall(keys.identities(id))
    .exec())!;
  const failed = replies.find(([error]) => error);
  if (failed) throw failed[0];
  const [user, password, version, totp, codes, passkeys, identities] = replies.map(([, value]) => value) as [
    string | null, string | null, string | null, string | null, string[], Record<string, string>, Record<string, string>,
  ];
  if (user === null) return null;
  if (password && !password.startsWith("$")) {
    // A Postgres directory's Redis holds a fingerprint there, never a hash: copying it would lock the user out.
    throw new Error(`user ${id}'s password entry is not a password hash: this Redis already serves a Postgres directory (DATABASE_URL), there is nothing to copy from it`);
  }
  const passkeyList = Object.values(passkeys).map((raw) => JSON.parse(raw) as PasskeyRecord);
  return {
    user: JSON.parse(user) as UserRecord,
    passwordHash: password || null,
    accessVersion: Number(version ?? 0),
    totp: totp === null ? null : (JSON.parse(totp) as { sealedSecret: string; lastStep: number }),
    recoveryCodes: codes,
    passkeys: passkeyList,
    identities: Object.values(identities).map((raw) => JSON.parse(raw) as LinkedIdentity),
  };
}

async function writeUser(client: Queryable, { user, passwordHash, accessVersion, totp, recoveryCodes, passkeys, identities }: RedisUser): Promise<"copied" | "already_there" | "conflict"> {
  const { rowCount } = await client.query(
    `INSERT INTO users (id, email, password_hash, roles, disabled, mfa_enabled, email_verified, created_at, access_version)
     VALUES ($1, $2, $3, $4, $5, $6, $7, ${MS_TO_TIMESTAMP("$8")}, $9)
     ON CONFLICT DO NOTHING`,
    [user.id, user.email, passwordHash, user.roles, user.disabled, user.mfaEnabled ?? null, user.emailVerified === true, user.createdAt, accessVersion],
  );
  if (rowCount !== 1) {
    const { rows } = await client.query("SELECT 1 FROM users WHERE id = $1", [user.id]);
    return rows.length > 0 ? "already_there" : "conflict";
  }
  if (totp) {
    await client.query("INSERT INTO totp_factors (user_id, sealed_secret, last_step) VALUES ($1, $2, $3)", [user.id, totp.sealedSecret, totp.lastStep]);
    await client.query("INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])", [user.id, recoveryCodes]);
  }
  for (const passkey of passkeys) {
    await client.query(
      `INSERT INTO passkeys (credential_id, user_id, name, public_key, counter, transports, backup_eligible, backed_up, created_at, last_used_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ${MS_TO_TIMESTAMP("$9")}, ${MS_TO_TIMESTAMP("$10")})`,
      [passkey.id, user.id, passkey.name, passkey.publicKey, passkey.counter, passkey.transports, passkey.backupEligible, passkey.backedUp, passkey.createdAt, passkey.lastUsedAt],
    );
  }
  for (const identity of identities) {
    await client.query(
      `INSERT INTO linked_identities (provider, subject, user_id, email, created_at) VALUES ($1, $2, $3, $4, ${MS_TO_TIMESTAMP("$5")})`,
      [identity.provider, identity.subject, user.id, identity.email, identity.linkedAt],
    );
  }
  // The first start with DATABASE_URL replays it: Redis then gets the record as Postgres keeps it.
  await recordChange(client, user.id, { kind: "record" });
  return "copied";
}
