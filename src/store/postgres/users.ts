import type { Credentials, UserPage, UserPageRequest, UserRecord, UserStore } from "../store";
import type { PostgresCore } from "./core";
import { recordChange, type AccessSync } from "./outbox";
import { isUuid } from "./transitions";
import { MS_TO_TIMESTAMP, toUserRecord, USER_COLUMNS, type UserRow } from "./rows";

/** The directory's users in Postgres: one account per address by the unique index on lower(email). */
export function postgresUsers(pg: PostgresCore, sync: AccessSync): UserStore {
  async function readUser(userId: string): Promise<UserRow | null> {
    if (!isUuid(userId)) return null;
    const { rows } = await pg.pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [userId]);
    return rows[0] ?? null;
  }

  return {
    createUser(user: UserRecord, passwordHash: string): Promise<boolean> {
      return pg.guard(async () => {
        const outboxId = await pg.transaction(async (client) => {
          const { rowCount } = await client.query(
            `INSERT INTO users (id, email, password_hash, roles, disabled, mfa_enabled, email_verified, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, ${MS_TO_TIMESTAMP("$8")})
             ON CONFLICT DO NOTHING`,
            [user.id, user.email, passwordHash, user.roles, user.disabled, user.mfaEnabled ?? null, user.emailVerified ?? false, user.createdAt],
          );
          return rowCount === 1 ? recordChange(client, user.id, { kind: "record" }) : null;
        });
        if (outboxId === null) return false;
        await sync.apply(outboxId, user.id, { kind: "record" });
        return true;
      });
    },

    findUserIdByEmail(email: string): Promise<string | null> {
      return pg.guard(async () => {
        const { rows } = await pg.pool.query<{ id: string }>("SELECT id::text FROM users WHERE lower(email) = lower($1)", [email]);
        return rows[0]?.id ?? null;
      });
    },

    getUser(userId: string): Promise<UserRecord | null> {
      return pg.guard(async () => {
        const row = await readUser(userId);
        return row && toUserRecord(row);
      });
    },

    getCredentials(userId: string): Promise<Credentials | null> {
      return pg.guard(async () => {
        const row = await readUser(userId);
        return row && row.password_hash !== null ? { user: toUserRecord(row), passwordHash: row.password_hash } : null;
      });
    },

    /**
     * Keyset paging on (created_at, id), every condition in SQL: the indexes in 001_directory.sql
     * answer it. The count still reads every match (count(*) over a trigram match is no index-only
     * scan): skipped, with totalCount null, when the caller will not read it.
     */
    listUsers({ first, after, filter, countTotal = true }: UserPageRequest): Promise<UserPage> {
      return pg.guard(async () => {
        const conditions: string[] = [];
        const params: unknown[] = [];
        const param = (value: unknown) => `$${params.push(value)}`;
        if (filter?.emailContains) conditions.push(`email LIKE ${param(`%${escapeLike(filter.emailContains.toLowerCase())}%`)}`);
        if (filter?.role) conditions.push(`${param(filter.role)} = ANY(roles)`);
        if (filter?.disabled !== undefined && filter?.disabled !== null) conditions.push(`disabled = ${param(filter.disabled)}`);
        if (filter?.createdAfter !== undefined && filter?.createdAfter !== null) conditions.push(`created_at > ${MS_TO_TIMESTAMP(param(filter.createdAfter))}`);
        const matching = conditions.length > 0 ? conditions.join(" AND ") : "true";
        const countParams = [...params];
        const position = after ? `(created_at, id) > (${MS_TO_TIMESTAMP(param(after.createdAt))}, ${param(after.id)}::uuid)` : "true";
        const limit = param(first + 1);
        const [page, count] = await Promise.all([
          pg.pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE ${matching} AND ${position} ORDER BY created_at, id LIMIT ${limit}`, params),
          countTotal ? pg.pool.query<{ total: string }>(`SELECT count(*) AS total FROM users WHERE ${matching}`, countParams) : null,
        ]);
        const totalCount = count ? Number(count.rows[0]!.total) : null;
        return { users: page.rows.slice(0, first).map(toUserRecord), hasNextPage: page.rows.length > first, totalCount };
      });
    },
  };
}

/** A substring taken literally by LIKE: its own % and _ are not wildcards. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
