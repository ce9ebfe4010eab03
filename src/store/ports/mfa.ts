/**
 * The second factor: TOTP (its enrolment, the factor, its failure count) and recovery codes.
 * Directory state, but for the pending enrolment and the failure count, which are short-lived and
 * may stay in Redis. enableTotp and disableMfa also set the user's `mfaEnabled`, which the
 * per-request read sees: with a separate directory they refresh the access record too.
 */

/** A user's TOTP factor as stored: the secret sealed (src/auth/mfa/secret-box.ts), never plain. */
export interface TotpRecord {
  readonly sealedSecret: string;
  /** The last time step whose code was accepted: no code of it or an earlier step is accepted again. */
  readonly lastStep: number;
  /** Wrong codes since the last accepted one; at MFA_LOCK_AFTER_FAILURES the factor is locked. */
  readonly failures: number;
}

export interface EnableTotpRequest {
  readonly userId: string;
  /** Must be the pending enrolment's sealed secret, exactly: a newer enrolment wins. */
  readonly sealedSecret: string;
  /** The step of the code that confirmed it, so that code cannot be used again. */
  readonly acceptedStep: number;
  readonly recoveryCodeHashes: readonly string[];
}

export type EnableTotpResult = "enabled" | "no_enrolment" | "already_enabled" | "user_missing";

export type AcceptStepResult = "accepted" | "replayed" | "locked" | "not_enabled";

/** Directory state, but for the enrolment and the failures (README.md). */
export interface MfaStore {
  /** Keeps a TOTP enrolment (its sealed secret) until confirmed or `expiresAt`; replaces any earlier one. */
  saveTotpEnrolment(userId: string, sealedSecret: string, expiresAt: number): Promise<void>;
  getTotpEnrolment(userId: string): Promise<string | null>;
  /**
   * Turns the enrolment into the user's factor in one step: stores it with its recovery-code
   * hashes, sets the user's `mfaEnabled`, drops the enrolment and any old failure count.
   */
  enableTotp(request: EnableTotpRequest): Promise<EnableTotpResult>;
  getTotp(userId: string): Promise<TotpRecord | null>;
  /**
   * The check-and-set of RFC 6238 §5.2, atomic across instances: accepts `step` only when it is
   * after the last accepted one and the factor has fewer than `lockAfter` failures; resets the
   * failures. `resealed` replaces the stored secret (sealed under a newer key) when given.
   */
  acceptTotpStep(userId: string, step: number, lockAfter: number, resealed?: string): Promise<AcceptStepResult>;
  /** Counts a wrong code; returns the failures since the last accepted code. */
  recordTotpFailure(userId: string): Promise<number>;
  /** Spends one recovery code by its hash: the codes left, or null when it is not one of them. Clears the failures. */
  useRecoveryCode(userId: string, codeHash: string): Promise<number | null>;
  /** Replaces every recovery code; false, changing nothing, unless the user has a second factor on. */
  replaceRecoveryCodes(userId: string, codeHashes: readonly string[]): Promise<boolean>;
  /** Removes the factor, its enrolment, failures and recovery codes, and clears `mfaEnabled`; true when one was on. */
  disableMfa(userId: string): Promise<boolean>;
}
