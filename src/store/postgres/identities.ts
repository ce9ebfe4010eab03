import type { IdentityStore, LinkedIdentity } from "../store";
import { isUniqueViolation, type PostgresCore } from "./core";
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
 * them is on the request path, so no access record changes.
 */
export function postgresIdentities(pg: PostgresCore): IdentityStore {
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

    unlinkIdentity(userId: string, id: string): Promise<"unlinked" | "missing" | "last_credential"> {
      return pg.guard(async () => {
        const colon = id.indexOf(":");
        if (!isUuid(userId) || colon < 0) return "missing";
        const [provider, subject] = [id.slice(0, colon), id.slice(colon + 1)];
        // The user's row lock serialises this with removePasskey's, which checks the same ways in.
        return pg.transaction(async (client) => {
          // The lock first, the count in a statement of its own: a statement that waited for the
          // lock counts with the snapshot it began with, so two unlinks counted the same two
          // identities and both went through (read committed takes a new snapshot per statement).
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
          if (!user?.has_it) return "missing";
          if (!user.password_hash && Number(user.passkeys) === 0 && Number(user.identities) <= 1) return "last_credential";
          await client.query("DELETE FROM linked_identities WHERE user_id = $1 AND provider = $2 AND subject = $3", [userId, provider, subject]);
          return "unlinked";
        });
      });
    },
  };
}
