import { createHash } from "node:crypto";
import type { ThrottleLimits } from "../../config";
import { AuthError, ThrottledError } from "../../errors";
import type { Limiter, LimiterSpec, LimiterState } from "../../store/limiter";
import type { Audit } from "../audit/audit";
import { clientKey } from "../shared/client-key";

/** How long a pair's count of blocks is kept, so each block doubles the last within a day. */
const BLOCK_COUNT_WINDOW_SECONDS = 24 * 3600;

export type LimiterFactory = (spec: LimiterSpec) => Limiter;

/**
 * Brute-force throttling, counted in the store so every instance sees the same counts:
 * failed password checks per (account, client IP) with a block that doubles on repeat, failed
 * logins per client IP across accounts, and registrations per client IP. A blocked attempt is
 * refused before any password work, whether or not the email exists.
 */
export class Throttle {
  private readonly pairFailures: Limiter;
  private readonly pairBlocks: Limiter;
  private readonly ipFailures: Limiter;
  private readonly registrations: Limiter;
  private readonly mfaUsers: Limiter;
  private readonly mfaSessions: Limiter;
  private readonly passkeyFailures: Limiter;
  private readonly passkeyIpFailures: Limiter;
  private readonly passkeyOptions: Limiter;
  private readonly oidcStarts: Limiter;
  private readonly recoveryPairs: Limiter;
  private readonly recoveryAddresses: Limiter;
  private readonly recoveryIps: Limiter;

  constructor(
    limiter: LimiterFactory,
    private readonly limits: ThrottleLimits,
    private readonly audit: Audit,
  ) {
    this.pairFailures = limiter({ name: "login-pair", points: limits.loginMaxFailures, windowSeconds: limits.loginFailureWindow });
    this.pairBlocks = limiter({ name: "login-pair-blocks", points: 1, windowSeconds: BLOCK_COUNT_WINDOW_SECONDS });
    this.ipFailures = limiter({ name: "login-ip", points: limits.loginMaxFailuresPerIp, windowSeconds: limits.loginIpWindow });
    this.registrations = limiter({ name: "register-ip", points: limits.registerMaxPerIp, windowSeconds: limits.registerWindow });
    this.mfaUsers = limiter({ name: "mfa-user", points: limits.mfaMaxFailures, windowSeconds: limits.mfaFailureWindow });
    this.mfaSessions = limiter({ name: "mfa-session", points: limits.mfaMaxFailures, windowSeconds: limits.mfaFailureWindow });
    // Passkey sign-ins share the login limits, counted apart: per credential id, and per client IP.
    this.passkeyFailures = limiter({ name: "passkey-credential", points: limits.loginMaxFailures, windowSeconds: limits.loginFailureWindow });
    this.passkeyIpFailures = limiter({ name: "passkey-ip", points: limits.loginMaxFailuresPerIp, windowSeconds: limits.loginIpWindow });
    this.passkeyOptions = limiter({ name: "passkey-options-ip", points: limits.passkeyOptionsMaxPerIp, windowSeconds: limits.passkeyOptionsWindow });
    this.oidcStarts = limiter({ name: "oidc-start-ip", points: limits.oidcStartMaxPerIp, windowSeconds: limits.oidcStartWindow });
    this.recoveryPairs = limiter({ name: "recovery-pair", points: limits.recoveryMaxPerAddressAndIp, windowSeconds: limits.recoveryWindow });
    this.recoveryAddresses = limiter({ name: "recovery-address", points: limits.recoveryMaxPerAddress, windowSeconds: limits.recoveryWindow });
    this.recoveryIps = limiter({ name: "recovery-ip", points: limits.recoveryMaxPerIp, windowSeconds: limits.recoveryWindow });
  }

  /**
   * Runs a second-factor check for the user from one session unless throttled: MFA_MAX_FAILURES
   * wrong codes per user, and per session, within the window. While blocked, even a right code is
   * refused (429, MFA_THROTTLED), so guessing cannot race the block. An INVALID_MFA_CODE outcome
   * keeps its count; anything else, success included, gives it back. A right code does not clear
   * the wrong ones: an attacker holding the password must not win fresh guesses each time the
   * real user signs in, from the session they share or from one of their own.
   */
  async guardSecondFactor<T>(userId: string, sessionId: string, clientIp: string, check: () => Promise<T>): Promise<T> {
    const [user, session] = await Promise.all([this.mfaUsers.hit(userId), this.mfaSessions.hit(sessionId)]);
    const over = user.count > this.limits.mfaMaxFailures ? { scope: "user" as const, state: user } : session.count > this.limits.mfaMaxFailures ? { scope: "session" as const, state: session } : null;
    if (over) {
      this.audit.mfaThrottled(userId, sessionId, over.scope, clientIp);
      throw new ThrottledError("MFA_THROTTLED", retryAfter(over.state));
    }
    let wrong = false;
    try {
      return await check();
    } catch (error) {
      wrong = error instanceof AuthError && error.reason === "INVALID_MFA_CODE";
      throw error;
    } finally {
      if (!wrong) await Promise.all([this.mfaUsers.refund(userId), this.mfaSessions.refund(sessionId)]);
    }
  }

  /**
   * Counts a request that mails `email` (a reset, a verification, an email change's confirmation)
   * from `clientIp`, and refuses it past any limit: RECOVERY_MAX_PER_ADDRESS_AND_IP for this address
   * from this client, RECOVERY_MAX_PER_IP for this client, and the higher RECOVERY_MAX_PER_ADDRESS
   * for the address from every client, which bounds the mails it can be sent. A request the pair
   * or IP limit refuses is given back to the address's count, so a stranger's client spends at most
   * its pair's share of it and the owner's own client still gets through. The address is counted
   * whether or not it has an account, so the refusal is the same for both.
   */
  async checkRecovery(email: string, clientIp: string): Promise<void> {
    const client = clientKey(clientIp);
    const addressId = addressKey(email);
    const [pair, ip, address] = await Promise.all([
      this.recoveryPairs.hit(pairKey(email, client)),
      this.recoveryIps.hit(client),
      this.recoveryAddresses.hit(addressId),
    ]);
    const over =
      pair.count > this.limits.recoveryMaxPerAddressAndIp ? { scope: "pair" as const, state: pair }
      : ip.count > this.limits.recoveryMaxPerIp ? { scope: "ip" as const, state: ip }
      : address.count > this.limits.recoveryMaxPerAddress ? { scope: "address" as const, state: address }
      : null;
    if (!over) return;
    if (over.scope !== "address") await this.recoveryAddresses.refund(addressId);
    this.audit.throttled("RECOVERY_THROTTLED", over.scope, clientIp);
    throw new ThrottledError("RECOVERY_THROTTLED", retryAfter(over.state));
  }

  /**
   * Forgets the failed logins of `email` from `clientIp`: a completed password reset proved the
   * mailbox. Other clients' counts for the address stay, since they may be the guesser's.
   */
  async forgivePair(email: string, clientIp: string): Promise<void> {
    const pair = pairKey(email, clientKey(clientIp));
    await Promise.all([this.pairFailures.reset(pair), this.pairBlocks.reset(pair)]);
  }

  /**
   * Runs a password check for `email` from `clientIp` unless throttled: an INVALID_CREDENTIALS
   * outcome counts as a failure, success clears the pair. Login uses it; so can any other
   * operation that checks a password (changing it, for one).
   */
  async guardPasswordCheck<T>(email: string, clientIp: string, check: () => Promise<T>): Promise<T> {
    const client = clientKey(clientIp);
    const pair = pairKey(email, client);
    // Counted before the check, atomically: a burst of concurrent attempts would all pass a read
    // of the count, and each would get its password checked (hundreds against a limit of 5).
    const [pairState, ipState] = await Promise.all([this.pairFailures.hit(pair), this.ipFailures.hit(client)]);
    const over = this.overLimit(pairState, ipState);
    if (over) {
      // The pair stays counted: it is over already, and a refund could undo part of a block that
      // another attempt set meanwhile. The IP counts failed logins only.
      await this.ipFailures.refund(client);
      this.audit.throttled("LOGIN_THROTTLED", over.scope, clientIp);
      throw new ThrottledError("LOGIN_THROTTLED", retryAfter(over.state));
    }
    let result: T;
    try {
      result = await check();
    } catch (error) {
      // A wrong password keeps its count; anything else (a disabled account, a store outage) was no guess.
      if (error instanceof AuthError && error.reason === "INVALID_CREDENTIALS") await this.failed(pair, pairState);
      else await Promise.all([this.pairFailures.refund(pair), this.ipFailures.refund(client)]);
      throw error;
    }
    // Both, always: a past block's count outlives the block itself, and a success forgives it too.
    await Promise.all([this.pairFailures.reset(pair), this.pairBlocks.reset(pair), this.ipFailures.refund(client)]);
    return result;
  }

  /**
   * Runs a passkey assertion check for `credentialId` from `clientIp` unless either has failed too
   * often (LOGIN_MAX_FAILURES per credential, LOGIN_MAX_FAILURES_PER_IP per client, in their
   * windows): an INVALID_CREDENTIALS outcome counts; success clears the credential's count.
   */
  async guardPasskeyCheck<T>(credentialId: string, clientIp: string, check: () => Promise<T>): Promise<T> {
    const client = clientKey(clientIp);
    const credential = createHash("sha256").update(credentialId).digest("base64url");
    const [credentialState, ipState] = await Promise.all([this.passkeyFailures.hit(credential), this.passkeyIpFailures.hit(client)]);
    const over =
      credentialState.count > this.limits.loginMaxFailures
        ? { scope: "pair" as const, state: credentialState }
        : ipState.count > this.limits.loginMaxFailuresPerIp
          ? { scope: "ip" as const, state: ipState }
          : null;
    if (over) {
      await this.passkeyIpFailures.refund(client);
      this.audit.throttled("PASSKEY_THROTTLED", over.scope, clientIp);
      throw new ThrottledError("PASSKEY_THROTTLED", retryAfter(over.state));
    }
    try {
      const result = await check();
      await Promise.all([this.passkeyFailures.reset(credential), this.passkeyIpFailures.refund(client)]);
      return result;
    } catch (error) {
      if (!(error instanceof AuthError && error.reason === "INVALID_CREDENTIALS")) {
        await Promise.all([this.passkeyFailures.refund(credential), this.passkeyIpFailures.refund(client)]);
      }
      throw error;
    }
  }

  /** Counts a request for sign-in options from `clientIp` (each stores a challenge); refuses it past the limit. */
  async checkPasskeyOptions(clientIp: string): Promise<void> {
    const state = await this.passkeyOptions.hit(clientKey(clientIp));
    if (state.count <= this.limits.passkeyOptionsMaxPerIp) return;
    this.audit.throttled("PASSKEY_THROTTLED", "ip", clientIp);
    throw new ThrottledError("PASSKEY_THROTTLED", retryAfter(state));
  }

  /**
   * Counts a provider sign-in started from `clientIp` (each stores a flow for 10 minutes, before
   * anyone proved anything); refuses it past OIDC_START_MAX_PER_IP, as a sign-in attempt: LOGIN_THROTTLED.
   */
  async checkFederationStart(clientIp: string): Promise<void> {
    const state = await this.oidcStarts.hit(clientKey(clientIp));
    if (state.count <= this.limits.oidcStartMaxPerIp) return;
    this.audit.throttled("LOGIN_THROTTLED", "ip", clientIp);
    throw new ThrottledError("LOGIN_THROTTLED", retryAfter(state), "Too many provider sign-ins started from this client; try again later");
  }

  /** Counts a registration attempt from `clientIp`; refuses it past the limit. */
  async checkRegister(clientIp: string): Promise<void> {
    const state = await this.registrations.hit(clientKey(clientIp));
    if (state.count <= this.limits.registerMaxPerIp) return;
    this.audit.throttled("REGISTER_THROTTLED", "ip", clientIp);
    throw new ThrottledError("REGISTER_THROTTLED", retryAfter(state));
  }

  /** Each attempt in flight holds one count, so at most the limit of them are checked at once. */
  private overLimit(pair: LimiterState, ip: LimiterState): { scope: "pair" | "ip"; state: LimiterState } | null {
    if (pair.count > this.limits.loginMaxFailures) return { scope: "pair", state: pair };
    if (ip.count > this.limits.loginMaxFailuresPerIp) return { scope: "ip", state: ip };
    return null;
  }

  /** The failure that reaches the limit blocks the pair: 1 block × 2^(blocks so far), capped. */
  private async failed(pair: string, counted: LimiterState): Promise<void> {
    if (counted.count < this.limits.loginMaxFailures) return;
    const blocks = await this.pairBlocks.hit(pair);
    const seconds = Math.min(this.limits.loginBlock * 2 ** Math.min(blocks.count - 1, 30), this.limits.loginMaxBlock);
    await this.pairFailures.block(pair, seconds);
  }
}

/** Hashed: the store's keys stay short and hold no email address. */
function pairKey(email: string, clientIp: string): string {
  return createHash("sha256").update(`${email}\n${clientIp}`).digest("base64url");
}

/** Hashed like pairKey: no address in the store's keys. */
function addressKey(email: string): string {
  return createHash("sha256").update(email).digest("base64url");
}

/** Whole seconds, at least 1, as the Retry-After header wants. */
function retryAfter(state: LimiterState): number {
  return Math.max(1, Math.ceil(state.msLeft / 1000));
}
