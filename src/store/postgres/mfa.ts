import type { DirectoryHotState } from "../redis/access-record";
import type { AcceptStepResult, EnableTotpRequest, EnableTotpResult, MfaStore, TotpRecord } from "../store";
import type { PostgresCore } from "./core";
import { recordChange, type AccessSync } from "./outbox";

/**
 * The second factor: the factor and the recovery codes in Postgres; the pending enrolment and the
 * count of wrong codes, short-lived, in Redis (`redis`: the Redis MfaStore, used for those only).
 */
export function postgresMfa(pg: PostgresCore, sync: AccessSync, hot: DirectoryHotState, redis: MfaStore): MfaStore {
  return {
    saveTotpEnrolment: (userId, sealedSecret, expiresAt) => redis.saveTotpEnrolment(userId, sealedSecret, expiresAt),
    getTotpEnrolment: (userId) => redis.getTotpEnrolment(userId),
    recordTotpFailure: (userId) => redis.recordTotpFailure(userId),

    enableTotp({ userId, sealedSecret, acceptedStep, recoveryCodeHashes }: EnableTotpRequest): Promise<EnableTotpResult> {
      return pg.guard(async () => {
        const enrolment = await redis.getTotpEnrolment(userId);
        const decided = await pg.transaction(async (client) => {
          const { rows } = await client.query<{ mfa_enabled: boolean | null }>("SELECT mfa_enabled FROM users WHERE id = $1 FOR UPDATE", [userId]);
          if (rows.length === 0) return "user_missing" as const;
          if (rows[0]!.mfa_enabled) return "already_enabled" as const;
          if (enrolment !== sealedSecret) return "no_enrolment" as const;
          await client.query("DELETE FROM recovery_codes WHERE user_id = $1", [userId]);
          await client.query(
            `INSERT INTO totp_factors (user_id, sealed_secret, last_step) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET sealed_secret = $2, last_step = $3, enabled_at = now()`,
            [userId, sealedSecret, acceptedStep],
          );
          await client.query("INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING", [userId, recoveryCodeHashes]);
          await client.query("UPDATE users SET mfa_enabled = true WHERE id = $1", [userId]);
          return { outboxId: await recordChange(client, userId, { kind: "record" }) };
        });
        if (typeof decided === "string") return decided;
        await sync.apply(decided.outboxId, userId, { kind: "record" });
        await hot.clearTotpHotState(userId);
        return "enabled";
      });
    },

    getTotp(userId: string): Promise<TotpRecord | null> {
      return pg.guard(async () => {
        const { rows } = await pg.pool.query<{ sealed_secret: string; last_step: string }>("SELECT sealed_secret, last_step FROM totp_factors WHERE user_id = $1", [userId]);
        if (rows.length === 0) return null;
        return { sealedSecret: rows[0]!.sealed_secret, lastStep: Number(rows[0]!.last_step), failures: await hot.totpFailures(userId) };
      });
    },

    /** The check-and-set is the conditional UPDATE: of concurrent acceptances of one step, one row count is 1. */
    acceptTotpStep(userId: string, step: number, lockAfter: number, resealed?: string): Promise<AcceptStepResult> {
      return pg.guard(async () => {
        const { rows } = await pg.pool.query("SELECT 1 FROM totp_factors WHERE user_id = $1", [userId]);
        if (rows.length === 0) return "not_enabled";
        if ((await hot.totpFailures(userId)) >= lockAfter) return "locked";
        const { rowCount } = await pg.pool.query(
          "UPDATE totp_factors SET last_step = $2, sealed_secret = coalesce($3, sealed_secret) WHERE user_id = $1 AND last_step < $2",
          [userId, step, resealed ?? null],
        );
        if (rowCount !== 1) return "replayed";
        await hot.clearTotpFailures(userId);
        return "accepted";
      });
    },

    useRecoveryCode(userId: string, codeHash: string): Promise<number | null> {
      return pg.guard(async () => {
        const { rows } = await pg.pool.query<{ left: string }>(
          `WITH spent AS (DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2 RETURNING 1)
           SELECT (SELECT count(*) FROM recovery_codes WHERE user_id = $1) - 1 AS left FROM spent`,
          [userId, codeHash],
        );
        if (rows.length === 0) return null;
        await hot.clearTotpFailures(userId);
        return Number(rows[0]!.left);
      });
    },

    replaceRecoveryCodes(userId: string, codeHashes: readonly string[]): Promise<boolean> {
      return pg.guard(() =>
        pg.transaction(async (client) => {
          const { rows } = await client.query("SELECT 1 FROM users WHERE id = $1 AND mfa_enabled FOR UPDATE", [userId]);
          if (rows.length === 0) return false;
          await client.query("DELETE FROM recovery_codes WHERE user_id = $1", [userId]);
          await client.query("INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING", [userId, codeHashes]);
          return true;
        }),
      );
    },

    disableMfa(userId: string): Promise<boolean> {
      return pg.guard(async () => {
        const outboxId = await pg.transaction(async (client) => {
          await client.query("DELETE FROM totp_factors WHERE user_id = $1", [userId]);
          await client.query("DELETE FROM recovery_codes WHERE user_id = $1", [userId]);
          const { rowCount } = await client.query("UPDATE users SET mfa_enabled = false WHERE id = $1 AND mfa_enabled", [userId]);
          return rowCount === 1 ? recordChange(client, userId, { kind: "record" }) : null;
        });
        await hot.clearTotpHotState(userId);
        if (outboxId === null) return false;
        await sync.apply(outboxId, userId, { kind: "record" });
        return true;
      });
    },
  };
}
