import type { IdentityStore, LinkedIdentity, UnlinkIdentityResult } from "../store";
import { isUniqueViolation, type PostgresCore } from "./core";
import { commitChange, type AccessSync } from "./outbox";
import { MS_TO_TIMESTAMP } from "./rows";
import { isUuid } from "./transitions";

const IDENTITY_COLUMNS = `provider, subject, user_id::text, email, round(extract(epoch FROM created_at) * 1000)::bigint AS created_at`;

interface IdentityRow {
  provider: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: string;
}

const toIdentity = (row: IdentityRow): LinkedIdentity => ({
  id: `${row.provider}:${row.subject}`,
  provider: row.provider,
  subject: row.subject,
  userId: row.user_id,
  email: row.email,
  linkedAt: Number(row.created_at),
});

/**
 * Linked provider identities in `linked_identities`: (provider, subject) is the primary key, so a
 * subject has one owner, and the insert that loses a race is the unique violation. Nothing about
 * them is on the request path; an unlink goes through the outbox (outbox.ts) for the sessions it ends in Redis.
 */
export function postgresIdentities(pg: PostgresCore, sync: AccessSync): IdentityStore {
  return {
    linkIdentity(identity: LinkedIdentity): Promise<"linked" | "taken"> {
      return pg.guard(async () => {
        try {
          const { rowCount } = await pg.pool.query(
            `INSERT INTO linked_identities (provider, subject, user_id, email, created_at) VALUES ($1, $2, $3, $4, ${MS_TO_TIMESTAMP("$5")})
             ON CONFLICT (provider, subject) DO NOTHING`,
            [identity.provider, identity.subject, identity.userId, identity.email, identity.linkedAt],
          );
          return rowCount === 1 ? "linked" : "taken";
        } catch (error) {
          if (isUniqueViolation(error)) return "taken";
          throw error;
        }
      });
    },

    findIdentity(provider: string, subject: string): Promise<LinkedIdentity | null> {
      return pg.guard(async () => {
        const { rows } = await pg.pool.query<IdentityRow>(`SELECT ${IDENTITY_COLUMNS} FROM linked_identities WHERE provider = $1 AND subject = $2`, [provider, subject]);
        return rows[0] ? toIdentity(rows[0]) : null;
      });
    },

    listIdentities(userId: string): Promise<LinkedIdentity[]> {
      return pg.guard(async () => {
        if (!isUuid(userId)) return [];
        const { rows } = await pg.pool.query<IdentityRow>(
          `SELECT ${IDENTITY_COLUMNS} FROM linked_identities WHERE user_id = $1 ORDER BY created_at, provider, subject`,
          [userId],
        );
        return rows.map(toIdentity);
      });
    },

    unlinkIdentity(userId: string, id: string): Promise<UnlinkIdentityResult> {
      return pg.guard(async () => {
        const colon = id.indexOf(":");
        if (!isUuid(userId) || colon < 0) return { status: "missing" };
        const [provider, subject] = [id.slice(0, colon), id.slice(colon + 1)];
        let refused: "missing" | "last_credential" = "missing";
        // The user's row lock serialises this with removePasskey's, which checks the same ways in;
        // the sessions the identity started end in Redis before the call returns (or at the replay).
        const done = await commitChange(pg, sync, userId, { kind: "identity", provider, subject }, async (client) => {
          // The lock first, in its own statement: the counts below are then read after any change that
          // held it committed (a waiting statement keeps the snapshot it started with, in READ COMMITTED).
          await client.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [userId]);
          const { rows } = await client.query<{ password_hash: string | null; passkeys: string; identities: string; has_it: boolean }>(
            `SELECT password_hash,
               (SELECT count(*) FROM passkeys WHERE user_id = users.id) AS passkeys,
               (SELECT count(*) FROM linked_identities WHERE user_id = users.id) AS identities,
               EXISTS (SELECT 1 FROM linked_identities WHERE user_id = users.id AND provider = $2 AND subject = $3) AS has_it
             FROM users WHERE id = $1`,
            [userId, provider, subject],
          );
          const user = rows[0];
          if (!user?.has_it) return null;
          if (!user.password_hash && Number(user.passkeys) === 0 && Number(user.identities) <= 1) {
            refused = "last_credential";
            return null;
          }
          await client.query("DELETE FROM linked_identities WHERE user_id = $1 AND provider = $2 AND subject = $3", [userId, provider, subject]);
          return true;
        });
        return done === null ? { status: refused } : { status: "unlinked", sessionIds: done.sessionIds };
      });
    },
  };
}
