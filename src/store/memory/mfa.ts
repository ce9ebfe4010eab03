import type { AcceptStepResult, EnableTotpRequest, EnableTotpResult, MfaStore, TotpRecord } from "../store";
import type { MemoryCore } from "./core";

/** The second factor: TOTP and recovery codes. */
export function memoryMfa(core: MemoryCore): MfaStore {
  async function getTotpEnrolment(userId: string): Promise<string | null> {
    const enrolment = core.totpEnrolments.get(userId);
    return enrolment && enrolment.expiresAt > core.clock.now() ? enrolment.sealedSecret : null;
  }

  return {
    getTotpEnrolment,

    async saveTotpEnrolment(userId: string, sealedSecret: string, expiresAt: number): Promise<void> {
      core.totpEnrolments.set(userId, { sealedSecret, expiresAt });
    },

    async enableTotp(request: EnableTotpRequest): Promise<EnableTotpResult> {
      const { userId } = request;
      const user = core.users.get(userId);
      if (!user) return "user_missing";
      if (user.mfaEnabled) return "already_enabled";
      if ((await getTotpEnrolment(userId)) !== request.sealedSecret) return "no_enrolment";
      core.totps.set(userId, { sealedSecret: request.sealedSecret, lastStep: request.acceptedStep });
      core.totpEnrolments.delete(userId);
      core.totpFailures.delete(userId);
      core.recoveryCodes.set(userId, new Set(request.recoveryCodeHashes));
      core.users.set(userId, { ...user, mfaEnabled: true });
      return "enabled";
    },

    async getTotp(userId: string): Promise<TotpRecord | null> {
      const totp = core.totps.get(userId);
      return totp ? { ...totp, failures: core.totpFailures.get(userId) ?? 0 } : null;
    },

    async acceptTotpStep(userId: string, step: number, lockAfter: number, resealed?: string): Promise<AcceptStepResult> {
      const totp = core.totps.get(userId);
      if (!totp) return "not_enabled";
      if ((core.totpFailures.get(userId) ?? 0) >= lockAfter) return "locked";
      if (step <= totp.lastStep) return "replayed";
      core.totps.set(userId, { sealedSecret: resealed ?? totp.sealedSecret, lastStep: step });
      core.totpFailures.delete(userId);
      return "accepted";
    },

    async recordTotpFailure(userId: string): Promise<number> {
      const failures = (core.totpFailures.get(userId) ?? 0) + 1;
      core.totpFailures.set(userId, failures);
      return failures;
    },

    async useRecoveryCode(userId: string, codeHash: string): Promise<number | null> {
      const codes = core.recoveryCodes.get(userId);
      if (!codes?.delete(codeHash)) return null;
      core.totpFailures.delete(userId);
      return codes.size;
    },

    async replaceRecoveryCodes(userId: string, codeHashes: readonly string[]): Promise<boolean> {
      if (!core.users.get(userId)?.mfaEnabled) return false;
      core.recoveryCodes.set(userId, new Set(codeHashes));
      return true;
    },

    async disableMfa(userId: string): Promise<boolean> {
      const user = core.users.get(userId);
      core.totps.delete(userId);
      core.totpEnrolments.delete(userId);
      core.totpFailures.delete(userId);
      core.recoveryCodes.delete(userId);
      if (!user?.mfaEnabled) return false;
      core.users.set(userId, { ...user, mfaEnabled: false });
      return true;
    },
  };
}
