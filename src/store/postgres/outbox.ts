import { createHash } from "node:crypto";
import type { AccessRecord, DirectoryHotState } from "../redis/access-record";
import type { PostgresCore, Queryable } from "./core";
import { toUserRecord, USER_COLUMNS, type UserRow } from "./rows";

/**
 * The write order between the two stores (ports/README.md, docs/operations.md#postgres): a directory
 * change commits in Postgres with a row here, bumping the user's access_version; then Redis gets the
 * access record as Postgres now holds it (written only over an older version) and the change's
 * hot-state effect; then the row goes. A crash or a Redis outage between the steps leaves the row,
 * replayed at the next start: the record is read afresh, so a replay is idempotent and late ones
 * write nothing; ending sessions again ends only what the change had to end, or what began since.
 * A running API also replays, every REPLAY_EVERY_MS, rows older than REPLAY_AFTER_MS: what a Redis
 * outage left while it served is repaired without a restart.
 */
export const REPLAY_EVERY_MS = 30_000;
export const REPLAY_AFTER_MS = 10_000;

export type HotEffect =
  | { readonly kind: "record" }
  | { readonly kind: "end_all" }
  /** A fingerprint: the changePassword step (the marker and the ending in one script). */
  | { readonly kind: "end_others"; readonly keep: string; readonly passwordChanged: boolean }
  | { readonly kind: "passkey"; readonly credentialId: string }
  /** An unlinked provider identity: the sessions it started end. */
  | { readonly kind: "identity"; readonly provider: string; readonly subject: string };

export interface EffectResult {
  /** end_all and end_others: live sessions ended; -1 when end_others' kept session was not live. */
  readonly ended: number;
  /** passkey and identity: the ids of the sessions it started. */
  readonly sessionIds: readonly string[];
}

/** A fingerprint of the hash for Redis' "was the password changed meanwhile" checks: not the hash. */
export function passwordFingerprint(passwordHash: string | null | undefined): string {
  return passwordHash ? createHash("sha256").update(passwordHash).digest("base64url") : "";
}

/** In the change's transaction: bumps the user's version and records the effect. Returns the row's id. */
export async function recordChange(client: Queryable, userId: string, effect: HotEffect): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `WITH bumped AS (UPDATE users SET access_version = access_version + 1 WHERE id = $1 RETURNING access_version)
     INSERT INTO directory_outbox (user_id, access_version, kind, payload)
     SELECT $1, access_version, $2, $3 FROM bumped RETURNING id::text`,
    [userId, effect.kind, JSON.stringify(effect)],
  );
  return rows[0]!.id;
}

/**
 * A directory change: the transaction's part (null: nothing changes, no row), then the sync. Returns
 * the transaction's value and the effect's result.
 */
export async function commitChange<T>(pg: PostgresCore, sync: AccessSync, userId: string, effect: HotEffect, body: (client: Queryable) => Promise<T | null>) {
  const decided = await pg.transaction(async (client) => {
    const value = await body(client);
    return value === null ? null : { value, outboxId: await recordChange(client, userId, effect) };
  });
  if (decided === null) return null;
  return { value: decided.value, ...(await sync.apply(decided.outboxId, userId, effect)) };
}

export class AccessSync {
  constructor(
    private readonly pg: PostgresCore,
    private readonly hot: DirectoryHotState,
  ) {}

  /** After the commit: the record, then the effect, then the row is done. */
  async apply(outboxId: string, userId: string, effect: HotEffect): Promise<EffectResult> {
    await this.copyRecord(userId);
    const result = await this.effect(userId, effect);
    await this.pg.pool.query("DELETE FROM directory_outbox WHERE id = $1", [outboxId]);
    return result;
  }

  /**
   * Every change a crash or an outage left half done, oldest first: at start all of them; while
   * serving, those older than `olderThanMs` (a younger row is most likely a call still applying it).
   * Returns how many.
   */
  async replayPending(olderThanMs = 0): Promise<number> {
    const { rows } = await this.pg.pool.query<{ id: string; user_id: string; payload: HotEffect }>(
      "SELECT id::text, user_id::text, payload FROM directory_outbox WHERE created_at <= now() - $1 * interval '1 millisecond' ORDER BY id",
      [olderThanMs],
    );
    for (const row of rows) await this.apply(row.id, row.user_id, row.payload);
    return rows.length;
  }

  /** The access record as Postgres holds it now; written over an older version (or a lost record) only. */
  async copyRecord(userId: string): Promise<void> {
    const record = await this.readRecord(userId);
    if (record) await this.hot.putAccessRecord(record);
  }

  /**
   * The access record as Postgres holds it, written over whatever Redis holds (directory-resync.ts).
   * Under the row's lock, so a change committing meanwhile copies its newer version after this.
   */
  forceRecord(userId: string): Promise<{ record: AccessRecord; written: "written" | "behind" } | null> {
    return this.pg.transaction(async (client) => {
      const record = await this.readRecord(userId, client, "FOR UPDATE");
      return record && { record, written: await this.hot.forceAccessRecord(record) };
    });
  }

  private async readRecord(userId: string, client: Queryable = this.pg.pool, lock = ""): Promise<AccessRecord | null> {
    const { rows } = await client.query<UserRow & { passkey_ids: string[] }>(
      `SELECT ${USER_COLUMNS}, ARRAY(SELECT credential_id FROM passkeys WHERE user_id = users.id ORDER BY credential_id) AS passkey_ids
       FROM users WHERE id = $1 ${lock}`,
      [userId],
    );
    const row = rows[0];
    if (!row) return null;
    return { user: toUserRecord(row), version: Number(row.access_version), passwordFingerprint: passwordFingerprint(row.password_hash), passkeyIds: row.passkey_ids };
  }

  private async effect(userId: string, effect: HotEffect): Promise<EffectResult> {
    const none: EffectResult = { ended: 0, sessionIds: [] };
    switch (effect.kind) {
      case "record":
        return none;
      case "end_all":
        return { ...none, ended: await this.hot.endAll(userId) };
      case "end_others": {
        const fingerprint = effect.passwordChanged ? await this.currentFingerprint(userId) : "";
        const ended = await this.hot.endOthers(userId, effect.keep, fingerprint);
        // The kept session ended meanwhile: the change is committed, so nothing of the user's may go on.
        if (ended < 0) await this.hot.endAll(userId);
        return { ...none, ended };
      }
      case "passkey":
        return { ...none, sessionIds: await this.hot.endPasskeySessions(userId, effect.credentialId) };
      case "identity":
        return { ...none, sessionIds: await this.hot.endIdentitySessions(userId, effect.provider, effect.subject) };
    }
  }

  private async currentFingerprint(userId: string): Promise<string> {
    const { rows } = await this.pg.pool.query<{ password_hash: string | null }>("SELECT password_hash FROM users WHERE id = $1", [userId]);
    return passwordFingerprint(rows[0]?.password_hash);
  }
}
