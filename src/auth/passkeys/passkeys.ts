import { createHash, randomBytes } from "node:crypto";
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { meetsAal } from "@revocable-auth/verifier/internal";
import type { Clock } from "../../clock";
import type { PasskeyConfig } from "../../config";
import { accountDisabled, AuthError, badInput, tokenRevoked, unauthenticated } from "../../errors";
import type { PasskeyRecord, PasskeyStore, UserRecord, UserStore, WebAuthnChallenge, WebAuthnChallengeStore } from "../../store/store";
import type { Origin } from "../accounts/accounts";
import { DECOY_USER_ID } from "../mail-links/mail-tokens";
import { standInCredentials, type AllowedCredential } from "./stand-ins";
import type { Assurance } from "../tokens/assurance";
import type { Audit } from "../audit/audit";
import type { Identity } from "../tokens/authenticator";
import { deviceOf, type AuthResult, type Sessions } from "../sessions/sessions";
import type { Throttle } from "../abuse/throttle";

type WebAuthn = typeof import("@simplewebauthn/server");
let loaded: WebAuthn | undefined;
/**
 * @simplewebauthn/server, loaded by the first ceremony: with its ASN.1 stack it is a sixth of the
 * modules the server would load at start, which an instance without passkeys never uses.
 */
const webAuthn = (): WebAuthn => (loaded ??= require("@simplewebauthn/server") as WebAuthn);

/** How long a ceremony's challenge waits for its response; the browser is told the same timeout. */
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** The most passkeys one user may hold; each costs a hash field and an entry in excludeCredentials. */
export const MAX_PASSKEYS_PER_USER = 20;
export const MAX_PASSKEY_NAME = 64;
/** A response beyond this is refused before any parsing: "none" attestation needs a few hundred bytes. */
export const MAX_RESPONSE_CHARS = 32 * 1024;
/** WebAuthn caps credential ids at 1023 bytes: 1364 base64url characters. */
const MAX_CREDENTIAL_ID_CHARS = 1364;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const DEFAULT_NAME = "Passkey";
const PROCESS_DECOY_KEY = randomBytes(32);
/** Whose passkeys an address without an account lists: a user id no user has, so the list is empty. */
const NO_ACCOUNT = DECOY_USER_ID;

export interface PasskeyGuards {
  readonly throttle: Throttle;
  readonly audit: Audit;
  /**
   * Keys the stand-in credential id answered for an email without passkeys. The same on every
   * instance and across restarts (server.ts derives it from MFA_ENCRYPTION_KEY), so the stand-in is
   * as stable as a real account's id: a changing one would tell that the address has no passkey.
   */
  readonly decoyKey: Buffer;
}

/**
 * Where passkey changes leave the domain: mail to the account's address listens here
 * (credential-mail.ts). `device`: the device the change came from, null when nothing names it.
 * Called after the change is stored; a listener that throws does not undo it.
 */
/** `locale`: the language of the request that caused the notice (Origin.locale). */
export interface PasskeyNotices {
  passkeyAdded?(user: UserRecord, name: string, device: string | null, locale?: string): void | Promise<void>;
  passkeyRemoved?(user: UserRecord, name: string, device: string | null, locale?: string): void | Promise<void>;
}

/**
 * Passkeys: WebAuthn registration for a signed-in user, and discoverable sign-in that starts a
 * session at aal2. Every ceremony's challenge is random, kept for CHALLENGE_TTL_MS under the
 * SHA-256 of itself, bound to its ceremony (and, for registration, to the user), and taken once.
 * The API stores public keys only (docs/passkeys.md).
 */
export class Passkeys {
  constructor(
    private readonly store: PasskeyStore & WebAuthnChallengeStore & Pick<UserStore, "getUser" | "findUserIdByEmail">,
    private readonly sessions: Sessions,
    private readonly clock: Clock,
    private readonly settings: PasskeyConfig,
    private readonly guards: PasskeyGuards | null = null,
    private readonly notices: PasskeyNotices = {},
    /** Outside production: a refused registration's error names its cause and the accepted origins and RP ID. */
    private readonly explainFailures = false,
  ) {}

  /**
   * Creation options for the caller, ready for PublicKeyCredential.parseCreationOptionsFromJSON.
   * Adding a passkey needs a recently authenticated session (Sessions.requireRecentAuthentication).
   */
  async registrationOptions(identity: Identity): Promise<object> {
    const user = await this.registeringUser(identity);
    await this.sessions.requireRecentAuthentication(identity);
    const existing = await this.store.listPasskeys(user.id);
    const options = await webAuthn().generateRegistrationOptions({
      rpName: this.settings.rpName,
      rpID: this.settings.rpId,
      userName: user.email,
      userDisplayName: user.email,
      userID: new Uint8Array(Buffer.from(user.id, "utf8")),
      challenge: newChallenge(),
      timeout: CHALLENGE_TTL_MS,
      attestationType: "none",
      excludeCredentials: existing.map((passkey) => ({ id: passkey.id, transports: [...passkey.transports] })),
      authenticatorSelection: { residentKey: "required", requireResidentKey: true, userVerification: "required" },
    });
    await this.keepChallenge({ ceremony: "registration", challenge: options.challenge, userId: user.id });
    return options;
  }

  /**
   * Verifies the attestation (format "none" accepted) against the caller's challenge and stores the
   * passkey; the account's address is told. The recent authentication is checked before the
   * challenge is taken, so after reauthenticate the same response may be sent again.
   */
  async register(identity: Identity, response: unknown, name: string | null | undefined, origin: Origin): Promise<PasskeyRecord> {
    const credential = parseResponse(response, "attestationObject") as unknown as RegistrationResponseJSON;
    const label = passkeyName(name ?? DEFAULT_NAME);
    const session = await this.sessions.requireRecentAuthentication(identity);
    const refuse = (failure: RegistrationFailure, message: string): never => {
      this.guards?.audit.passkeyRegistrationFailed(identity.userId, identity.sessionId, failure.cause, failure.details, origin.clientIp);
      const explained = this.explainFailures ? { cause: failure.cause, acceptedOrigins: [...this.settings.origins], rpId: this.settings.rpId } : undefined;
      throw notVerified(message, explained);
    };
    const challenge = await this.takeChallenge(credential);
    if (!challenge || challenge.ceremony !== "registration" || challenge.userId !== identity.userId) {
      return refuse({ cause: "challenge", details: {} }, "This registration's challenge is unknown, used, expired or not yours: ask for new options");
    }
    const user = await this.registeringUser(identity);
    let verified;
    try {
      verified = await webAuthn().verifyRegistrationResponse({
        response: credential,
        expectedChallenge: challenge.challenge,
        expectedOrigin: [...this.settings.origins],
        expectedRPID: this.settings.rpId,
        requireUserPresence: true,
        requireUserVerification: true,
      });
    } catch (error) {
      return refuse(registrationFailure(error), "The passkey could not be verified: origin, RP ID, user verification or attestation");
    }
    if (!verified.verified) return refuse({ cause: "attestation", details: {} }, "The passkey could not be verified: origin, RP ID, user verification or attestation");
    const info = verified.registrationInfo;
    if (info.credential.id.length > MAX_CREDENTIAL_ID_CHARS) return refuse({ cause: "credential_id", details: {} }, "The credential id is longer than WebAuthn allows");
    const passkey: PasskeyRecord = {
      id: info.credential.id,
      userId: user.id,
      name: label,
      publicKey: Buffer.from(info.credential.publicKey).toString("base64url"),
      counter: info.credential.counter,
      transports: info.credential.transports ?? [],
      backupEligible: info.credentialDeviceType === "multiDevice",
      backedUp: info.credentialBackedUp,
      createdAt: this.clock.now(),
      lastUsedAt: null,
    };
    switch (await this.store.addPasskey(passkey, MAX_PASSKEYS_PER_USER)) {
      case "added":
        this.guards?.audit.passkeyRegistered(user.id, identity.sessionId, passkey.id, origin.clientIp);
        await notify(() => this.notices.passkeyAdded?.(user, passkey.name, deviceOf(session, origin), origin.locale));
        return passkey;
      case "taken":
        return refuse({ cause: "taken", details: {} }, "This passkey is registered already");
      case "limit":
        throw badInput(`An account may hold at most ${MAX_PASSKEYS_PER_USER} passkeys: remove one first`);
      case "user_missing":
        throw tokenRevoked();
    }
  }

  /**
   * Request options. Without an email, for a discoverable credential: the browser offers the passkeys
   * it holds for this RP. With one, they list that account's passkeys; an email with none (or no
   * account) gets a stand-in id derived from it rather than an empty list, so the answer alone
   * does not tell which emails have passkeys. Counted per client IP: each call stores a challenge.
   */
  async loginOptions(email: string | null | undefined, origin: Origin): Promise<object> {
    await this.guards?.throttle.checkPasskeyOptions(origin.clientIp);
    const allowCredentials = email == null ? undefined : await this.allowedFor(email);
    const options = await webAuthn().generateAuthenticationOptions({
      rpID: this.settings.rpId,
      challenge: newChallenge(),
      timeout: CHALLENGE_TTL_MS,
      userVerification: "required",
      allowCredentials,
    });
    await this.keepChallenge({ ceremony: "authentication", challenge: options.challenge, userId: null });
    return options;
  }

  /**
   * Verifies an assertion and starts a session at aal2: a passkey with user verification is two
   * factors at once (something held, and the PIN or biometric that unlocked it). Failures are
   * throttled per credential id and per client IP, and audited; they all answer alike.
   */
  async login(response: unknown, device: string | null, origin: Origin): Promise<AuthResult> {
    const assertion = parseResponse(response, "authenticatorData") as unknown as AuthenticationResponseJSON;
    const check = () => this.checkAssertion(assertion, device, origin);
    return this.guards ? this.guards.throttle.guardPasskeyCheck(assertion.id, origin.clientIp, check) : check();
  }

  list(userId: string): Promise<PasskeyRecord[]> {
    return this.store.listPasskeys(userId);
  }

  async rename(userId: string, id: string, name: string): Promise<PasskeyRecord> {
    const renamed = await this.store.renamePasskey(userId, id, passkeyName(name));
    if (!renamed) throw passkeyNotFound();
    return renamed;
  }

  /**
   * Removes one of the caller's passkeys and ends the sessions it started (Sessions.removePasskey);
   * the account's address is told. The passkey's name and the caller's device are read first: the
   * removal may end the caller's own session.
   */
  async remove(identity: Identity, id: string, origin: Origin): Promise<void> {
    const [passkey, session] = await Promise.all([this.store.getPasskey(identity.userId, id), this.sessions.current(identity)]);
    if (!passkey) throw passkeyNotFound();
    const result = await this.sessions.removePasskey(identity.userId, id);
    if (result.status === "missing") throw passkeyNotFound();
    if (result.status === "last_way_in") {
      throw new AuthError("BAD_USER_INPUT", "LAST_SIGN_IN_METHOD", "This is your last way to sign in: set a password, add another passkey or link a provider first");
    }
    this.guards?.audit.passkeyRemoved(identity.userId, identity.sessionId, id, result.ended, origin.clientIp);
    const user = await this.store.getUser(identity.userId).catch(() => null);
    if (user) await notify(() => this.notices.passkeyRemoved?.(user, passkey.name, deviceOf(session, origin), origin.locale));
  }

  private async checkAssertion(assertion: AuthenticationResponseJSON, device: string | null, origin: Origin): Promise<AuthResult> {
    const refuse = (cause: string, userId: string | null = null): never => {
      this.guards?.audit.passkeyLoginFailed(userId, cause, origin.clientIp);
      throw passkeyRefused();
    };
    const challenge = await this.takeChallenge(assertion);
    if (!challenge || challenge.ceremony !== "authentication") return refuse("challenge");
    const owner = await this.store.passkeyOwner(assertion.id);
    const passkey = owner === null ? null : await this.store.getPasskey(owner, assertion.id);
    if (!owner || !passkey) return refuse("unknown_credential");
    const userHandle = assertion.response.userHandle;
    if (userHandle && Buffer.from(userHandle, "base64url").toString("utf8") !== owner) return refuse("user_handle", owner);
    let verified;
    try {
      verified = await webAuthn().verifyAuthenticationResponse({
        response: assertion,
        expectedChallenge: challenge.challenge,
        expectedOrigin: [...this.settings.origins],
        expectedRPID: this.settings.rpId,
        // Counters are compared in the store, atomically with recording the new one.
        credential: { id: passkey.id, publicKey: new Uint8Array(Buffer.from(passkey.publicKey, "base64url")), counter: 0, transports: [...passkey.transports] },
        requireUserVerification: true,
      });
    } catch (error) {
      return refuse(/user could not be verified|user verification/i.test(String((error as Error)?.message)) ? "user_not_verified" : "not_verified", owner);
    }
    if (!verified.verified || !verified.authenticationInfo.userVerified) return refuse("user_not_verified", owner);
    const info = verified.authenticationInfo;
    const used = await this.store.usePasskey(owner, passkey.id, info.newCounter);
    if (used.status === "missing") return refuse("unknown_credential", owner);
    if (used.status === "counter_regressed") {
      this.guards?.audit.passkeyCounterRegressed(owner, passkey.id, used.passkey.counter, info.newCounter, origin.clientIp);
      throw passkeyRefused();
    }
    const user = await this.store.getUser(owner);
    if (!user) return refuse("unknown_credential", owner);
    if (user.disabled) throw accountDisabled();
    return this.sessions.start(user, device, passkeyAssurance(info.credentialDeviceType === "multiDevice"), undefined, passkey.id, origin.dpopKey);
  }

  /**
   * The signed-in user who may register: when they have a second factor on (mfaEnabled, issue 17),
   * only a session that proved it (aal2) may add a passkey, so a stolen password alone cannot.
   */
  private async registeringUser(identity: Identity): Promise<UserRecord> {
    const user = await this.store.getUser(identity.userId);
    if (!user) throw tokenRevoked();
    if (hasSecondFactor(user) && !meetsAal(identity.aal, "aal2")) {
      throw new AuthError("FORBIDDEN", "MFA_REQUIRED", "Adding a passkey needs a session that verified its second factor (aal2)");
    }
    return user;
  }

  /**
   * An address with passkeys and one without (or without an account) take the same store reads: the
   * email lookup, then the passkey list (an empty one for no account), so neither time nor the
   * store's commands tell them apart; a stand-in of a real answer's shape fills an empty list.
   */
  private async allowedFor(email: string): Promise<AllowedCredential[]> {
    const normalized = email.normalize("NFKC").trim().toLowerCase();
    const userId = await this.store.findUserIdByEmail(normalized);
    const passkeys = await this.store.listPasskeys(userId ?? NO_ACCOUNT);
    if (passkeys.length > 0) return passkeys.map((passkey) => ({ id: passkey.id, transports: [...passkey.transports] }));
    // Without guards (tests of the ceremonies alone), a key of this process.
    return standInCredentials(this.guards?.decoyKey ?? PROCESS_DECOY_KEY, normalized);
  }

  private async keepChallenge(challenge: WebAuthnChallenge): Promise<void> {
    await this.store.saveChallenge(challengeId(challenge.challenge), challenge, CHALLENGE_TTL_MS);
  }

  /** The challenge the response's clientDataJSON names, taken from the store (so never again); null when none. */
  private async takeChallenge(response: { response: { clientDataJSON: string } }): Promise<WebAuthnChallenge | null> {
    let challenge: unknown;
    try {
      challenge = JSON.parse(Buffer.from(response.response.clientDataJSON, "base64url").toString("utf8")).challenge;
    } catch {
      return null;
    }
    if (typeof challenge !== "string" || !BASE64URL.test(challenge) || challenge.length > 128) return null;
    const taken = await this.store.takeChallenge(challengeId(challenge));
    return taken?.challenge === challenge ? taken : null;
  }
}

/** The user's second factor (TOTP) is on: the user record's `mfaEnabled` flag, set by enrolment. */
export function hasSecondFactor(user: UserRecord): boolean {
  return user.mfaEnabled === true;
}

/**
 * RFC 8176: "hwk" for a key bound to its hardware, "swk" for one that can be copied (a synced,
 * backup-eligible passkey), and "user" for the user verification the assertion carried.
 */
export function passkeyAssurance(synced: boolean): Assurance {
  return { aal: "aal2", amr: [synced ? "swk" : "hwk", "user"] };
}

function newChallenge(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(randomBytes(32));
}

function challengeId(challenge: string): string {
  return createHash("sha256").update(challenge).digest("base64url");
}

function passkeyName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_PASSKEY_NAME) throw badInput(`A passkey's name must be 1 to ${MAX_PASSKEY_NAME} characters`);
  return trimmed;
}

/**
 * The shape both ceremonies share, checked before any work: the library gets a well-formed object,
 * and an oversized one is refused unread. `field`: what the ceremony's response must carry.
 */
function parseResponse(value: unknown, field: "attestationObject" | "authenticatorData"): Record<string, unknown> {
  const invalid = () => badInput("response must be the JSON of a PublicKeyCredential (credential.toJSON()) from this ceremony");
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid();
  if (JSON.stringify(value).length > MAX_RESPONSE_CHARS) throw badInput(`response must be at most ${MAX_RESPONSE_CHARS} characters of JSON`);
  const record = value as Record<string, unknown>;
  const inner = record.response as Record<string, unknown> | undefined;
  const id = record.id;
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_CREDENTIAL_ID_CHARS || !BASE64URL.test(id)) throw invalid();
  if (record.type !== "public-key" || typeof record.rawId !== "string") throw invalid();
  if (typeof inner !== "object" || inner === null || typeof inner.clientDataJSON !== "string" || typeof inner[field] !== "string") throw invalid();
  return { ...record, clientExtensionResults: record.clientExtensionResults ?? {} };
}

/** A notice listener's failure never undoes the change nor fails the request. */
async function notify(send: () => void | Promise<void>): Promise<void> {
  try {
    await send();
  } catch {
    // the change is stored; a notice is best effort
  }
}

const notVerified = (message: string, extensions?: Record<string, unknown>) => new AuthError("BAD_USER_INPUT", "PASSKEY_NOT_VERIFIED", message, extensions);

/** Why a registration was refused, for the audit line: a cause, and what it is about (never the challenge or the credential). */
interface RegistrationFailure {
  readonly cause: "challenge" | "origin" | "rp_id" | "user_verification" | "user_presence" | "type" | "attestation" | "credential_id" | "taken";
  readonly details: Record<string, string>;
}

/** Longest piece of a refused response (the origin it names) kept in a log line. */
const MAX_LOGGED_CHARS = 200;

/**
 * SimpleWebAuthn says why it refused in its error's message only. The origin the browser reported
 * is kept (the usual misconfiguration: WEBAUTHN_ORIGINS lacks the page's origin); a message that
 * names the challenge is never kept, and any other only as the library's words, cut short.
 */
function registrationFailure(error: unknown): RegistrationFailure {
  const message = String((error as Error)?.message ?? error);
  const origin = /registration response origin "([^"]*)"/.exec(message);
  if (origin) return { cause: "origin", details: { origin: origin[1]!.slice(0, MAX_LOGGED_CHARS) } };
  if (/challenge/i.test(message)) return { cause: "challenge", details: {} };
  if (/RP ID/.test(message)) return { cause: "rp_id", details: {} };
  if (/user could not be verified/i.test(message)) return { cause: "user_verification", details: {} };
  if (/user was not present/i.test(message)) return { cause: "user_presence", details: {} };
  if (/response type/i.test(message)) return { cause: "type", details: {} };
  return { cause: "attestation", details: { error: message.slice(0, MAX_LOGGED_CHARS) } };
}

const passkeyNotFound = () => new AuthError("NOT_FOUND", "PASSKEY_NOT_FOUND", "No such passkey");

/** One answer for every refused sign-in; the audit line says which check refused it. */
const passkeyRefused = () => unauthenticated("INVALID_CREDENTIALS", "The passkey was not accepted");
