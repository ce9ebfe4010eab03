import { createHash, timingSafeEqual } from "node:crypto";
import type { Clock } from "../../clock";
import { AuthError, mfaRequired, tokenRevoked } from "../../errors";
import type { MfaStore, UserRecord, UserStore } from "../../store/store";
import type { Accounts, Origin } from "../accounts/accounts";
import { secondFactor } from "../tokens/assurance";
import { firstFactorOf, type Audit, type MfaMethod } from "../audit/audit";
import type { Identity } from "../tokens/authenticator";
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from "./recovery-codes";
import type { SecretBox } from "./secret-box";
import { deviceOf, type AuthResult, type Sessions } from "../sessions/sessions";
import type { Throttle } from "../abuse/throttle";
import { isTotpCode, matchTotpStep, newTotpSecret, totpUri } from "./totp";

type QRCodeModule = typeof import("qrcode");
let qrcode: QRCodeModule | undefined;
/** qrcode (and its PNG encoder), loaded by the first enrolment rather than at every start. */
const QRCode = (): QRCodeModule => (qrcode ??= require("qrcode") as QRCodeModule);

/** NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts before the factor is locked. */
export const MFA_LOCK_AFTER_FAILURES = 100;
/** How long an enrolment waits for its confirming code. */
export const TOTP_ENROLMENT_TTL_MS = 15 * 60_000;
/** Longer input is not a code of either kind; refused before any work. */
const MAX_CODE_LENGTH = 64;

export interface TotpEnrollment {
  /** Base32, for typing into an authenticator that cannot scan. */
  readonly secret: string;
  readonly otpauthUri: string;
  /** The URI as an SVG QR code. */
  readonly qrSvg: string;
}

export interface TotpConfirmation {
  /** Shown once: only their hashes are kept. */
  readonly recoveryCodes: readonly string[];
  /** New tokens for the confirming session, now at aal2. */
  readonly auth: AuthResult;
}

/**
 * Where the second factor's notices leave the domain: mail to the account's address listens here
 * (credential-mail.ts). `device`: the device the change came from (sessions.ts deviceOf),
 * null when nothing names it. Each is called after the change is stored; a listener that throws
 * does not undo it.
 */
/** `locale`: the language of the request that caused the notice (Origin.locale); absent for an admin's change. */
export interface MfaNotices {
  recoveryCodeUsed?(user: UserRecord, remaining: number): void | Promise<void>;
  /** `device`: absent when an admin turned it off. */
  totpDisabled?(user: UserRecord, by: "user" | "admin", device?: string | null, locale?: string): void | Promise<void>;
  totpEnabled?(user: UserRecord, device: string | null, locale?: string): void | Promise<void>;
  recoveryCodesRegenerated?(user: UserRecord, device: string | null): void | Promise<void>;
}

export interface MfaSettings {
  /** The name authenticator apps show (MFA_ISSUER). */
  readonly issuer: string;
}

export interface MfaGuards {
  readonly throttle: Throttle;
  readonly audit: Audit;
}

const invalidCode = () => new AuthError("BAD_USER_INPUT", "INVALID_MFA_CODE", "The code is wrong, already used or expired");
const notEnabled = () => new AuthError("BAD_USER_INPUT", "MFA_NOT_ENABLED", "No second factor is on for this account");
const alreadyEnabled = () => new AuthError("BAD_USER_INPUT", "MFA_ALREADY_ENABLED", "A second factor is already on: disable it first");
const enrolmentMissing = () =>
  new AuthError("BAD_USER_INPUT", "TOTP_ENROLMENT_MISSING", "No TOTP enrolment is waiting (or it expired): call enrollTotp again");
const locked = () =>
  new AuthError("FORBIDDEN", "MFA_LOCKED", "Too many wrong codes: the authenticator is locked. Use a recovery code, or ask an admin to reset the second factor");

/**
 * The second factor: TOTP (RFC 6238) with recovery codes. Every flow ends in the domain's own
 * methods: raising a session is Sessions.stepUp, ending sessions is Sessions.endOthers or
 * Sessions.endAll, so revocation stays one event. Secrets are sealed (secret-box.ts) before
 * they reach the store; recovery codes are hashed.
 */
export class Mfa {
  constructor(
    private readonly store: MfaStore & Pick<UserStore, "getUser">,
    private readonly box: SecretBox,
    private readonly sessions: Sessions,
    private readonly accounts: Accounts,
    private readonly clock: Clock,
    private readonly settings: MfaSettings,
    private readonly guards: MfaGuards | null = null,
    private readonly notices: MfaNotices = {},
  ) {}

  /**
   * Starts an enrolment; replaces any earlier one. Needs a recently authenticated session: the
   * password, when given, is that proof (Accounts.reauthenticate, throttled like a login); without
   * it, the session's sign-in, step-up or reauthenticate must be recent (REAUTHENTICATION_REQUIRED).
   */
  async enrollTotp(identity: Identity, currentPassword: string | null, origin: Origin): Promise<TotpEnrollment> {
    if (currentPassword === null) await this.sessions.requireRecentAuthentication(identity);
    else await this.accounts.reauthenticate(identity, currentPassword, origin);
    const user = await this.accounts.getUser(identity.userId);
    if (user.mfaEnabled) throw alreadyEnabled();
    const secret = newTotpSecret();
    await this.store.saveTotpEnrolment(user.id, this.box.seal(secret, user.id), this.clock.now() + TOTP_ENROLMENT_TTL_MS);
    return this.enrolmentOf(secret, user.email);
  }

  /**
   * The waiting enrolment again (its QR code, for a second try at the confirming code), for a caller
   * who shows `enrolmentRef(secret)` of the one they were given: it tells them nothing they did not
   * know. Null when that is not the waiting one (expired, or replaced by a newer enrolment), so a
   * stale QR code is never redrawn.
   */
  async pendingEnrolment(identity: Identity, ref: string): Promise<TotpEnrollment | null> {
    const sealed = await this.store.getTotpEnrolment(identity.userId);
    const pending = sealed === null ? null : this.box.open(sealed, identity.userId);
    if (pending === null || !sameText(enrolmentRef(pending), ref)) return null;
    const user = await this.accounts.getUser(identity.userId);
    return this.enrolmentOf(pending, user.email);
  }

  private async enrolmentOf(secret: string, email: string): Promise<TotpEnrollment> {
    const otpauthUri = totpUri(secret, this.settings.issuer, email);
    return { secret, otpauthUri, qrSvg: await QRCode().toString(otpauthUri, { type: "svg", errorCorrectionLevel: "M", margin: 2 }) };
  }

  /**
   * Turns the factor on once a code proves the authenticator has the secret: the user's other
   * sessions end (they proved the password alone), this one is raised to aal2.
   */
  async confirmTotp(identity: Identity, code: string, origin: Origin): Promise<TotpConfirmation> {
    const userId = identity.userId;
    return this.guarded(identity, origin, async () => {
      const sealed = await this.store.getTotpEnrolment(userId);
      const secret = sealed === null ? null : this.box.open(sealed, userId);
      if (sealed === null || secret === null) throw enrolmentMissing();
      const step = matchTotpStep(secret, code.trim(), this.clock.now());
      if (step === null) {
        this.guards?.audit.mfaFailed(userId, identity.sessionId, origin.clientIp, null);
        throw invalidCode();
      }
      const recoveryCodes = newRecoveryCodes();
      const recoveryCodeHashes = recoveryCodes.map((c) => hashRecoveryCode(userId, normalizeRecoveryCode(c)!));
      const enabled = await this.store.enableTotp({ userId, sealedSecret: sealed, acceptedStep: step, recoveryCodeHashes });
      if (enabled === "already_enabled") throw alreadyEnabled();
      if (enabled === "user_missing") throw tokenRevoked();
      if (enabled === "no_enrolment") throw enrolmentMissing();
      const ended = await this.sessions.endOthers(identity);
      const auth = await this.sessions.stepUp(identity, secondFactor(identity, "otp"));
      this.guards?.audit.mfaEnrolled(userId, identity.sessionId, origin.clientIp, ended);
      await this.notify(userId, (user) => this.notices.totpEnabled?.(user, deviceOf(auth.session, origin), origin.locale));
      return { recoveryCodes, auth };
    });
  }

  /**
   * The second step of a sign-in: a current TOTP code or an unused recovery code raises the
   * caller's session to aal2, with a new refresh-token family (Sessions.stepUp).
   */
  async verify(identity: Identity, code: string, origin: Origin): Promise<AuthResult> {
    const method = await this.guarded(identity, origin, () => this.checkAnyCode(identity, code, origin));
    const result = await this.sessions.stepUp(identity, secondFactor(identity, "otp"));
    this.guards?.audit.mfaVerified(identity.userId, identity.sessionId, origin.clientIp, method);
    // The sign-in that waited for this code reaches the user's history now (its password step went with the attempts).
    if (result.upgraded) this.guards?.audit.signedIn(result.session, firstFactorOf(result.session), origin, method);
    return result;
  }

  /**
   * Reauthentication with a second-factor code: a current TOTP code or an unused recovery code,
   * checked and throttled as verifyMfa checks them; then the caller's session counts as recently
   * authenticated. Unlike verifyMfa it raises nothing and keeps the refresh token.
   */
  async reauthenticate(identity: Identity, code: string, origin: Origin): Promise<void> {
    const method = await this.guarded(identity, origin, () => this.checkAnyCode(identity, code, origin));
    await this.sessions.markAuthenticated(identity);
    this.guards?.audit.reauthenticated(identity, method, origin);
  }

  /**
   * New recovery codes for old, at aal2, in a recently authenticated session, with a current TOTP
   * code. The recent authentication is checked first, so a refused call spends no code.
   */
  async regenerateRecoveryCodes(identity: Identity, code: string, origin: Origin): Promise<string[]> {
    requireAal2(identity);
    const session = await this.sessions.requireRecentAuthentication(identity);
    await this.guarded(identity, origin, () => this.checkTotp(identity, code, origin));
    const codes = newRecoveryCodes();
    const hashes = codes.map((c) => hashRecoveryCode(identity.userId, normalizeRecoveryCode(c)!));
    if (!(await this.store.replaceRecoveryCodes(identity.userId, hashes))) throw notEnabled();
    this.guards?.audit.recoveryCodesRegenerated(identity.userId, identity.sessionId, origin.clientIp);
    await this.notify(identity.userId, (user) => this.notices.recoveryCodesRegenerated?.(user, deviceOf(session, origin)));
    return codes;
  }

  /** Turns the factor off, at aal2 and with a current TOTP code; the user's other sessions end. */
  async disableTotp(identity: Identity, code: string, origin: Origin): Promise<void> {
    requireAal2(identity);
    await this.guarded(identity, origin, () => this.checkTotp(identity, code, origin));
    if (!(await this.store.disableMfa(identity.userId))) throw notEnabled();
    const ended = await this.sessions.endOthers(identity);
    this.guards?.audit.mfaDisabled(identity.userId, identity.sessionId, origin.clientIp, ended);
    const session = await this.sessions.current(identity).catch(() => null);
    await this.notify(identity.userId, (user) => this.notices.totpDisabled?.(user, "user", deviceOf(session, origin), origin.locale));
  }

  /**
   * For an admin: removes a user's second factor and ends every session of theirs. False, changing
   * nothing, when the user had none.
   */
  async resetUser(actorId: string, userId: string): Promise<boolean> {
    await this.accounts.getUser(userId);
    if (!(await this.store.disableMfa(userId))) return false;
    const ended = await this.accounts.endSessionsOf(userId);
    this.guards?.audit.mfaReset(actorId, userId, ended);
    await this.notify(userId, (user) => this.notices.totpDisabled?.(user, "admin"));
    return true;
  }

  private async guarded<T>(identity: Identity, origin: Origin, check: () => Promise<T>): Promise<T> {
    if (!this.guards) return check();
    return this.guards.throttle.guardSecondFactor(identity.userId, identity.sessionId, origin.clientIp, check);
  }

  /** Six digits are a TOTP code; anything else is tried as a recovery code. */
  private async checkAnyCode(identity: Identity, code: string, origin: Origin): Promise<MfaMethod> {
    const trimmed = code.trim();
    if (isTotpCode(trimmed)) {
      await this.checkTotp(identity, trimmed, origin);
      return "totp";
    }
    await this.spendRecoveryCode(identity, trimmed, origin);
    return "recovery_code";
  }

  /**
   * A current code, within one step of drift, of a step after the last accepted one, while the
   * factor is not locked. Every refusal counts toward the lock.
   */
  private async checkTotp(identity: Identity, code: string, origin: Origin): Promise<void> {
    const userId = identity.userId;
    const totp = await this.store.getTotp(userId);
    if (totp === null) throw notEnabled();
    if (totp.failures >= MFA_LOCK_AFTER_FAILURES) throw locked();
    const secret = this.box.open(totp.sealedSecret, userId);
    // A secret no key opens (MFA_ENCRYPTION_KEY changed without MFA_PREVIOUS_ENCRYPTION_KEYS): fail closed, loudly.
    if (secret === null) throw new Error("the stored TOTP secret does not open with MFA_ENCRYPTION_KEY or MFA_PREVIOUS_ENCRYPTION_KEYS");
    const step = code.length <= MAX_CODE_LENGTH ? matchTotpStep(secret, code.trim(), this.clock.now()) : null;
    const resealed = this.box.isStale(totp.sealedSecret) ? this.box.seal(secret, userId) : undefined;
    const outcome = step === null ? "wrong" : await this.store.acceptTotpStep(userId, step, MFA_LOCK_AFTER_FAILURES, resealed);
    if (outcome === "accepted") return;
    if (outcome === "not_enabled") throw notEnabled();
    if (outcome === "locked") throw locked();
    await this.failed(identity, origin);
  }

  private async spendRecoveryCode(identity: Identity, code: string, origin: Origin): Promise<void> {
    const canonical = code.length <= MAX_CODE_LENGTH ? normalizeRecoveryCode(code) : null;
    const user = await this.accounts.getUser(identity.userId);
    if (!user.mfaEnabled) throw notEnabled();
    const remaining = canonical === null ? null : await this.store.useRecoveryCode(user.id, hashRecoveryCode(user.id, canonical));
    if (remaining === null) {
      this.guards?.audit.mfaFailed(user.id, identity.sessionId, origin.clientIp, null);
      throw invalidCode();
    }
    this.guards?.audit.recoveryCodeUsed(user.id, identity.sessionId, origin.clientIp, remaining);
    await this.notify(user.id, (fresh) => this.notices.recoveryCodeUsed?.(fresh, remaining));
  }

  /** Counts the failure on the factor; the one that reaches the limit locks it. Always throws. */
  private async failed(identity: Identity, origin: Origin): Promise<never> {
    const failures = await this.store.recordTotpFailure(identity.userId);
    this.guards?.audit.mfaFailed(identity.userId, identity.sessionId, origin.clientIp, failures);
    if (failures === MFA_LOCK_AFTER_FAILURES) this.guards?.audit.mfaLocked(identity.userId, identity.sessionId, origin.clientIp);
    throw invalidCode();
  }

  /** A notice listener's failure is logged by its owner, never undoes the change, never fails the request. */
  private async notify(userId: string, send: (user: UserRecord) => void | Promise<void>): Promise<void> {
    try {
      const user = await this.store.getUser(userId);
      if (user) await send(user);
    } catch {
      // the change is stored; a notice is best effort
    }
  }
}

/** Turning the factor off or changing its codes needs a session that proved it. */
function requireAal2(identity: Identity): void {
  if (identity.aal !== "aal2") throw mfaRequired();
}

/** Equal strings, compared in the same time whatever differs: as fixed-length digests. */
/**
 * What a form carries back to name an enrolment (Mfa.pendingEnrolment): a digest, so the secret
 * itself never travels in a request body that a proxy or a WAF might log.
 */
export function enrolmentRef(secret: string): string {
  return createHash("sha256").update(`totp-enrolment:${secret}`).digest("base64url");
}

function sameText(a: string, b: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}
