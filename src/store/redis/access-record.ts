import { keys } from "@revocable-auth/verifier/internal";
import type { UserRecord } from "../store";
import type { RedisCore } from "./core";

/** The user's access record as the directory (Postgres) last committed it: what the user's slot copies. */
export interface AccessRecord {
  readonly user: UserRecord;
  /** The directory's access_version: only a newer one is written over an older one. */
  readonly version: number;
  /** A fingerprint of the password hash (never the hash), '' for none. */
  readonly passwordFingerprint: string;
  readonly passkeyIds: readonly string[];
}

/**
 * The hot-state half of a directory kept elsewhere (src/store/postgres): the access record and the
 * session endings each directory write needs after its commit, and the TOTP counters that stay in
 * Redis. Each call guarded as every Redis call: an outage is STORE_UNAVAILABLE, whichever store's
 * step the caller is in.
 */
export function redisDirectoryHotState(core: RedisCore) {
  const guarded = <A extends unknown[], R>(call: (...args: A) => Promise<R>) => (...args: A): Promise<R> => core.guard(() => call(...args));
  const writeAccessRecord = async ({ user, version, passwordFingerprint, passkeyIds }: AccessRecord, mode: "" | "force") => {
    const recordKeys = [keys.user(user.id), keys.accessVersion(user.id), keys.password(user.id), keys.passkeys(user.id)];
    return Number(await core.durableScript("putAccessRecord", recordKeys, [version, JSON.stringify(user), passwordFingerprint, mode, ...passkeyIds]));
  };
  const methods = {
    /**
     * True when written; false when Redis holds this version or a newer one already (and the
     * record: a lost one is written again whatever the version left beside it).
     */
    async putAccessRecord(record: AccessRecord): Promise<boolean> {
      return (await writeAccessRecord(record, "")) !== 0;
    },

    /**
     * Written whatever version Redis holds (`npm run directory:resync`, after a restore of
     * Postgres). "behind": Redis held a newer version, the one a restore took Postgres back from.
     */
    async forceAccessRecord(record: AccessRecord): Promise<"written" | "behind"> {
      return (await writeAccessRecord(record, "force")) === 2 ? "behind" : "written";
    },

    /** Ends every session and cancels a pending email change, as endAllSessions does. */
    async endAll(userId: string): Promise<number> {
      return Number(await core.durableScript("endAllSessions", [keys.sessions(userId), keys.cutoff(userId), keys.mailToken(userId, "email_change")], []));
    },

    /** With a fingerprint, the changePassword step: -1 when `keepSessionId` is no longer live. */
    endOthers(userId: string, keepSessionId: string, passwordFingerprint: string): Promise<number> {
      return core.endOthers(userId, keepSessionId, passwordFingerprint);
    },

    async endPasskeySessions(userId: string, credentialId: string): Promise<string[]> {
      const scriptKeys = [keys.sessions(userId), keys.cutoff(userId), keys.session(userId, "")];
      return (await core.durableScript("endPasskeySessions", scriptKeys, [credentialId])) as string[];
    },

    async endIdentitySessions(userId: string, provider: string, subject: string): Promise<string[]> {
      const scriptKeys = [keys.sessions(userId), keys.cutoff(userId), keys.session(userId, "")];
      return (await core.durableScript("endIdentitySessions", scriptKeys, [provider, subject])) as string[];
    },

    async totpFailures(userId: string): Promise<number> {
      return Number((await core.client.get(keys.totpFailures(userId))) ?? 0);
    },

    async clearTotpFailures(userId: string): Promise<void> {
      await core.client.del(keys.totpFailures(userId));
    },

    /** The enrolment and the failure count: gone once a factor is enabled or removed. */
    async clearTotpHotState(userId: string): Promise<void> {
      await core.client.del(keys.totpEnrolment(userId), keys.totpFailures(userId));
    },
  };
  return {
    putAccessRecord: guarded(methods.putAccessRecord),
    forceAccessRecord: guarded(methods.forceAccessRecord),
    endAll: guarded(methods.endAll),
    endOthers: guarded(methods.endOthers),
    endPasskeySessions: guarded(methods.endPasskeySessions),
    endIdentitySessions: guarded(methods.endIdentitySessions),
    totpFailures: guarded(methods.totpFailures),
    clearTotpFailures: guarded(methods.clearTotpFailures),
    clearTotpHotState: guarded(methods.clearTotpHotState),
  };
}

export type DirectoryHotState = ReturnType<typeof redisDirectoryHotState>;
