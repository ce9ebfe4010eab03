import type { DirectoryHotState } from "../redis/access-record";
import type { PostgresCore } from "./core";
import { AccessSync } from "./outbox";

/**
 * `npm run directory:resync` (src/cli/directory-resync.ts): every user's access record in Redis
 * written again from Postgres, whatever version Redis holds (docs/operations.md#backups).
 *
 * A directory change reaches Redis only over an older version (outbox.ts), which keeps a late copy
 * from putting an older state back. After a point-in-time restore Postgres' versions went back, so
 * Redis holds newer ones: every change since would be dropped there. Writing each record at
 * Postgres' version puts both back in step; the next change is newer again.
 *
 * Sessions end, failing closed, where the restore leaves them vouched for by a state that is gone:
 * - a user Postgres has disabled: Redis may hold sessions begun while a state the restore undid let
 *   them in, and a later re-enable must not bring those back;
 * - a user Redis held newer: whether the lost change loosened (a role granted) or tightened (a
 *   disable, a role taken, a reset that ended a takeover) is not known here, and the restored
 *   state may let back in what that change shut out. Their ids are returned for the operator to
 *   re-apply what the audit trail (in Redis, so it survived) shows since the restore point.
 */
export interface ResyncCounts {
  /** Users whose access record was written. */
  readonly users: number;
  /** Of those, Redis held a newer version: the restore's case (0 on a second run). */
  readonly behind: number;
  /** Sessions ended: of users Postgres has disabled, and of the users in `behindUsers`. */
  readonly sessionsEnded: number;
  /** The ids of the users Redis held newer (`behind`), in id order. */
  readonly behindUsers: readonly string[];
}

/** Users read from Postgres per step, by id. */
const CHUNK = 500;

export async function resyncAccessRecords(pg: PostgresCore, hot: DirectoryHotState): Promise<ResyncCounts> {
  const sync = new AccessSync(pg, hot);
  const counts = { users: 0, behind: 0, sessionsEnded: 0, behindUsers: [] as string[] };
  for (let after: string | null = null; ; ) {
    const { rows }: { rows: { id: string }[] } = await pg.pool.query<{ id: string }>("SELECT id::text FROM users WHERE $1::uuid IS NULL OR id > $1::uuid ORDER BY id LIMIT $2", [after, CHUNK]);
    for (const { id } of rows) {
      const forced = await sync.forceRecord(id);
      if (forced === null) continue; // gone since it was listed
      counts.users++;
      const behind = forced.written === "behind";
      if (behind) {
        counts.behind++;
        counts.behindUsers.push(id);
      }
      if (behind || forced.record.user.disabled) counts.sessionsEnded += await hot.endAll(id);
    }
    if (rows.length < CHUNK) break;
    after = rows[rows.length - 1]!.id;
  }
  return counts;
}
