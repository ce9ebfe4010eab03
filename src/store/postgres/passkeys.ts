import type { AddPasskeyResult, PasskeyRecord, PasskeyStore, UsePasskeyResult } from "../store";
import { isUniqueViolation, type PostgresCore } from "./core";
import { recordChange, type AccessSync } from "./outbox";
import { MS_TO_TIMESTAMP, PASSKEY_COLUMNS, toPasskeyRecord, type PasskeyRow } from "./rows";
import { isUuid } from "./transitions";

/**
 * Passkeys in Postgres: the credential id is the primary key, so one credential has one owner. The
 * access record in Redis carries each user's credential ids, for createSession's "removed meanwhile" check.
 */
export function postgresPasskeys(pg: PostgresCore, sync: AccessSync): PasskeyStore {
  async function readPasskey(userId: string, credentialId: string): Promise<PasskeyRecord | null> {
    if (!isUuid(userId)) return null;
    const { rows } = await pg.pool.query<PasskeyRow>(`SELECT ${PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 AND credential_id = $2`, [userId, credentialId]);
    return rows[0] ? toPasskeyRecord(rows[0]) : null;
  }

  return {
    addPasskey(passkey: PasskeyRecord, max: number): Promise<AddPasskeyResult> {
      return pg.guard(async () => {
        if (!isUuid(passkey.userId)) return "user_missing";
        const decided = await pg.transaction(async (client) => {
          // The user's row lock orders the adds of one user, so the limit holds under concurrency.
          const user = await client.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [passkey.userId]);
          if (user.rows.length === 0) return "user_missing" as const;
          const held = await client.query<{ n: string }>("SELECT count(*) AS n FROM passkeys WHERE user_id = $1", [passkey.userId]);
          const taken = await client.query("SELECT 1 FROM passkeys WHERE credential_id = $1", [passkey.id]);
          if (taken.rows.length > 0) return "taken" as const;
          if (Number(held.rows[0]!.n) >= max) return "limit" as const;
          try {
            await client.query("SAVEPOINT add_passkey");
            await client.query(
              `INSERT INTO passkeys (credential_id, user_id, name, public_key, counter, transports, backup_eligible, backed_up, created_at, last_used_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ${MS_TO_TIMESTAMP("$9")}, ${MS_TO_TIMESTAMP("$10")})`,
              [passkey.id, passkey.userId, passkey.name, passkey.publicKey, passkey.counter, passkey.transports, passkey.backupEligible, passkey.backedUp, passkey.createdAt, passkey.lastUsedAt],
            );
          } catch (error) {
            // Another user's add of the same credential id committed first.
            if (!isUniqueViolation(error)) throw error;
            await client.query("ROLLBACK TO SAVEPOINT add_passkey");
            return "taken" as const;
          }
          return { outboxId: await recordChange(client, passkey.userId, { kind: "record" }) };
        });
        if (typeof decided === "string") return decided;
        await sync.apply(decided.outboxId, passkey.userId, { kind: "record" });
        return "added";
      });
    },

    passkeyOwner(credentialId: string): Promise<string | null> {
      return pg.guard(async () => {
        const { rows } = await pg.pool.query<{ user_id: string }>("SELECT user_id::text FROM passkeys WHERE credential_id = $1", [credentialId]);
        return rows[0]?.user_id ?? null;
      });
    },

    getPasskey(userId: string, credentialId: string): Promise<PasskeyRecord | null> {
      return pg.guard(() => readPasskey(userId, credentialId));
    },

    listPasskeys(userId: string): Promise<PasskeyRecord[]> {
      return pg.guard(async () => {
        // Not a uuid: no user (the stand-in lookup of an unknown address asks for one), and no query a uuid column would refuse.
        if (!isUuid(userId)) return [];
        const { rows } = await pg.pool.query<PasskeyRow>(`SELECT ${PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, credential_id`, [userId]);
        return rows.map(toPasskeyRecord);
      });
    },

    renamePasskey(userId: string, credentialId: string, name: string): Promise<PasskeyRecord | null> {
      return pg.guard(async () => {
        if (!isUuid(userId)) return null;
        const { rows } = await pg.pool.query<PasskeyRow>(
          `UPDATE passkeys SET name = $3 WHERE user_id = $1 AND credential_id = $2 RETURNING ${PASSKEY_COLUMNS}`,
          [userId, credentialId, name],
        );
        return rows[0] ? toPasskeyRecord(rows[0]) : null;
      });
    },

    /** One conditional UPDATE: the counter goes up (or both are 0), else nothing changes. */
    usePasskey(userId: string, credentialId: string, counter: number): Promise<UsePasskeyResult> {
      return pg.guard(async () => {
        if (!isUuid(userId)) return { status: "missing" };
        const { rows } = await pg.pool.query<PasskeyRow>(
          `UPDATE passkeys SET counter = $3, last_used_at = ${MS_TO_TIMESTAMP("$4")}
           WHERE user_id = $1 AND credential_id = $2 AND (counter < $3 OR (counter = 0 AND $3 = 0))
           RETURNING ${PASSKEY_COLUMNS}`,
          [userId, credentialId, counter, Date.now()],
        );
        if (rows[0]) return { status: "used", passkey: toPasskeyRecord(rows[0]) };
        const passkey = await readPasskey(userId, credentialId);
        return passkey ? { status: "counter_regressed", passkey } : { status: "missing" };
      });
    },
  };
}
