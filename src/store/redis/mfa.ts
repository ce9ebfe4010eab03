import { keys } from "@revocable-auth/verifier/internal";
import type { AcceptStepResult, EnableTotpRequest, EnableTotpResult, MfaStore, TotpRecord } from "../store";
import { parseJson, type RedisCore } from "./core";

/** The second factor, on the user's slot. */
export function redisMfa(core: RedisCore): MfaStore {
  return {
    async saveTotpEnrolment(userId: string, sealedSecret: string, expiresAt: number): Promise<void> {
      await core.guard(() => core.client.set(keys.totpEnrolment(userId), sealedSecret, "PXAT", expiresAt));
    },

    getTotpEnrolment(userId: string): Promise<string | null> {
      return core.guard(() => core.client.get(keys.totpEnrolment(userId)));
    },

    enableTotp(request: EnableTotpRequest): Promise<EnableTotpResult> {
      const { userId } = request;
      const totpKeys = [keys.user(userId), keys.totpEnrolment(userId), keys.totp(userId), keys.totpFailures(userId), keys.recoveryCodes(userId)];
      return core.guard(() => core.durableScript("enableTotp", totpKeys, [request.sealedSecret, request.acceptedStep, ...request.recoveryCodeHashes]));
    },

    getTotp(userId: string): Promise<TotpRecord | null> {
      return core.guard(async () => {
        const [raw, failures] = await core.client.mget(keys.totp(userId), keys.totpFailures(userId));
        const totp = parseJson<Omit<TotpRecord, "failures">>(raw ?? null);
        return totp && { sealedSecret: totp.sealedSecret, lastStep: Number(totp.lastStep), failures: Number(failures ?? 0) };
      });
    },

    acceptTotpStep(userId: string, step: number, lockAfter: number, resealed?: string): Promise<AcceptStepResult> {
      // Durable: a failover must not bring back a step already accepted (RFC 6238 §5.2).
      return core.guard(() => core.durableScript("acceptTotpStep", [keys.totp(userId), keys.totpFailures(userId)], [step, lockAfter, resealed ?? ""]));
    },

    recordTotpFailure(userId: string): Promise<number> {
      return core.guard(() => core.client.incr(keys.totpFailures(userId)));
    },

    useRecoveryCode(userId: string, codeHash: string): Promise<number | null> {
      return core.guard(async () => {
        const left = Number(await core.durableScript("useRecoveryCode", [keys.recoveryCodes(userId), keys.totpFailures(userId)], [codeHash]));
        return left < 0 ? null : left;
      });
    },

    replaceRecoveryCodes(userId: string, codeHashes: readonly string[]): Promise<boolean> {
      return core.guard(async () => (await core.durableScript("replaceRecoveryCodes", [keys.user(userId), keys.recoveryCodes(userId)], [...codeHashes])) === 1);
    },

    disableMfa(userId: string): Promise<boolean> {
      const mfaKeys = [keys.user(userId), keys.totp(userId), keys.totpEnrolment(userId), keys.totpFailures(userId), keys.recoveryCodes(userId)];
      return core.guard(async () => (await core.durableScript("disableMfa", mfaKeys, [])) === 1);
    },
  };
}
