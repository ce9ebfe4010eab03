import { isLiveSession } from "@revocable-auth/verifier/internal";
import { unguardedAccessChanges, type AccessChange, type AccessChangeResult, type EmailChangeCancelResult, type EmailChangeResult, type MailTokenStore, type PresentedMailToken, type RemovePasskeyResult, type SessionStore, type TransitionStore, type UserRecord } from "../store";
import { isUniqueViolation, type PostgresCore, type Queryable } from "./core";
import { commitChange, type AccessSync, type HotEffect } from "./outbox";
import { toUserRecord, USER_COLUMNS, type UserRow } from "./rows";

/**
 * Every access change of every user takes this transaction-scoped lock first: they commit in one
 * order, and the zero-enabled-admins check sees every change committed before it.
 */
const ACCESS_LOCK = 32_001;

/** What the transitions need of the hot state besides the sync: the mail tokens and the per-request read. */
export type TransitionHotPorts = Pick<MailTokenStore, "takeMailToken"> & Pick<SessionStore, "accessState">;

/**
 * The steps that span both stores (ports/README.md): the directory's part commits in Postgres with
 * an outbox row, then the sync writes the access record and ends what the change ends in Redis
 * before the call returns (outbox.ts). A mail token is taken first, in Redis: a link works once even
 * when two requests bring it together, and a failure after the take costs a new link, never a second use.
 */
export function postgresTransitions(pg: PostgresCore, sync: AccessSync, hot: TransitionHotPorts): TransitionStore {
  /** The transaction's part, then the sync: returns the transaction's value and the effect's result. */
  const commit = <T>(userId: string, effect: HotEffect, body: (client: Queryable) => Promise<T | null>) => commitChange(pg, sync, userId, effect, body);

  async function updateUser(client: Queryable, sql: string, params: unknown[]): Promise<UserRecord | null> {
    const { rows } = await client.query<UserRow>(`${sql} RETURNING ${USER_COLUMNS}`, params);
    return rows[0] ? toUserRecord(rows[0]) : null;
  }

  async function isLive(userId: string, sessionId: string): Promise<boolean> {
    const { session, cutoff } = await hot.accessState(userId, sessionId, "");
    return isLiveSession(session, cutoff);
  }

  function changeAccess(userId: string, change: AccessChange, keepAnAdmin: boolean): Promise<AccessChangeResult> {
    return pg.guard(async () => {
      if (!isUuid(userId)) return { status: "user_missing" };
      let lastAdmin = false;
      const effect: HotEffect = change.disabled ? { kind: "end_all" } : { kind: "record" };
      const done = await commit(userId, effect, async (client) => {
        await client.query("SELECT pg_advisory_xact_lock($1)", [ACCESS_LOCK]);
        const { rows } = await client.query<{ roles: string[]; disabled: boolean }>("SELECT roles, disabled FROM users WHERE id = $1 FOR UPDATE", [userId]);
        const current = rows[0];
        if (!current) return null;
        const roles = change.roles ?? current.roles;
        const disabled = change.disabled ?? current.disabled;
        const wasAdmin = !current.disabled && current.roles.includes("ADMIN");
        if (keepAnAdmin && wasAdmin && (disabled || !roles.includes("ADMIN"))) {
          const others = await client.query("SELECT 1 FROM users WHERE 'ADMIN' = ANY(roles) AND NOT disabled AND id <> $1 LIMIT 1", [userId]);
          if (others.rows.length === 0) {
            lastAdmin = true;
            return null;
          }
        }
        return updateUser(client, "UPDATE users SET roles = $2, disabled = $3 WHERE id = $1", [userId, roles, disabled]);
      });
      if (lastAdmin) return { status: "last_admin" };
      return done ? { status: "changed", user: done.value } : { status: "user_missing" };
    });
  }

  return {
    changeAccess,
    ...unguardedAccessChanges(changeAccess),

    changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean> {
      return pg.guard(async () => {
        if (!(await isLive(userId, keepSessionId))) return false;
        const effect: HotEffect = { kind: "end_others", keep: keepSessionId, passwordChanged: true };
        const done = await commit(userId, effect, (client) => updateUser(client, "UPDATE users SET password_hash = $2 WHERE id = $1", [userId, passwordHash]));
        return done !== null;
      });
    },

    resetPassword(token: PresentedMailToken, passwordHash: string): Promise<UserRecord | null> {
      return pg.guard(async () => {
        const mailed = await hot.takeMailToken(token, "password_reset");
        if (!mailed) return null;
        const done = await commit(token.userId, { kind: "end_all" }, (client) =>
          updateUser(client, "UPDATE users SET password_hash = $2, email_verified = true WHERE id = $1 AND email = $3", [token.userId, passwordHash, mailed.email]),
        );
        return done?.value ?? null;
      });
    },

    verifyEmail(token: PresentedMailToken): Promise<UserRecord | null> {
      return pg.guard(async () => {
        const mailed = await hot.takeMailToken(token, "email_verification");
        if (!mailed) return null;
        const done = await commit(token.userId, { kind: "record" }, (client) =>
          updateUser(client, "UPDATE users SET email_verified = true WHERE id = $1 AND email = $2", [token.userId, mailed.email]),
        );
        return done?.value ?? null;
      });
    },

    changeEmail(token: PresentedMailToken): Promise<EmailChangeResult> {
      return pg.guard(async () => {
        const { userId } = token;
        const mailed = await hot.takeMailToken(token, "email_change");
        const asking = mailed?.sessionId;
        if (!mailed || asking === undefined || !(await isLive(userId, asking))) return { status: "invalid" };
        let taken = false;
        const done = await commit(userId, { kind: "end_others", keep: asking, passwordChanged: false }, async (client) => {
          try {
            await client.query("SAVEPOINT change_email");
            return await updateUser(client, "UPDATE users SET email = $2, email_verified = true WHERE id = $1 AND NOT disabled", [userId, mailed.email]);
          } catch (error) {
            if (!isUniqueViolation(error)) throw error;
            await client.query("ROLLBACK TO SAVEPOINT change_email");
            taken = true;
            return null;
          }
        });
        if (taken) return { status: "taken" };
        if (!done) return { status: "invalid" };
        return { status: "changed", user: done.value, ended: done.ended, keptSessionId: asking };
      });
    },

    cancelEmailChange(token: PresentedMailToken): Promise<EmailChangeCancelResult> {
      return pg.guard(async () => {
        const { userId } = token;
        const mailed = await hot.takeMailToken(token, "email_change_cancel");
        if (!mailed) return { status: "invalid" };
        const done = await commit(userId, { kind: "end_all" }, async (client) => {
          const user = await updateUser(client, "UPDATE users SET password_hash = NULL WHERE id = $1", [userId]);
          if (!user || user.email === mailed.email) return user && { user, reverted: false };
          try {
            // Back to the address the notice went to, unless another account holds it now.
            await client.query("SAVEPOINT move_back");
            const moved = await updateUser(client, "UPDATE users SET email = $2, email_verified = true WHERE id = $1", [userId, mailed.email]);
            return { user: moved!, reverted: true };
          } catch (error) {
            if (!isUniqueViolation(error)) throw error;
            await client.query("ROLLBACK TO SAVEPOINT move_back");
            return { user, reverted: false };
          }
        });
        if (!done) return { status: "invalid" };
        return { status: "cancelled", user: done.value.user, ended: done.ended, reverted: done.value.reverted };
      });
    },

    removePasskey(userId: string, credentialId: string): Promise<RemovePasskeyResult> {
      return pg.guard(async () => {
        let refused: "missing" | "last_way_in" | null = null;
        const done = await commit(userId, { kind: "passkey", credentialId }, async (client) => {
          // The lock first, in its own statement: the counts below are then read after any change that
          // held it committed (a waiting statement keeps the snapshot it started with, in READ COMMITTED).
          await client.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [userId]);
          const { rows } = await client.query<{ password_hash: string | null; held: string; identities: string; has_it: boolean }>(
            `SELECT password_hash,
               (SELECT count(*) FROM passkeys WHERE user_id = users.id) AS held,
               (SELECT count(*) FROM linked_identities WHERE user_id = users.id) AS identities,
               EXISTS (SELECT 1 FROM passkeys WHERE user_id = users.id AND credential_id = $2) AS has_it
             FROM users WHERE id = $1`,
            [userId, credentialId],
          );
          const user = rows[0];
          if (!user || !user.has_it) refused = "missing";
          else if (!user.password_hash && Number(user.held) <= 1 && Number(user.identities) === 0) refused = "last_way_in";
          if (refused) return null;
          await client.query("DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2", [userId, credentialId]);
          return true;
        });
        if (!done) return { status: refused ?? "missing" };
        return { status: "removed", ended: done.sessionIds.length, sessionIds: done.sessionIds };
      });
    },
  };
}

/** The directory's ids are uuids: anything else names no user (and must not reach a uuid column). */
export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
