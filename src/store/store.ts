import type { Role } from "@revocable-auth/verifier";
import type { Assurance } from "@revocable-auth/verifier/internal";
import type { Limiter, LimiterSpec } from "./limiter";

/** The roles, and the rule at the end, are shared with every verifier through the package. */
export type { Role } from "@revocable-auth/verifier";
export { ROLES } from "@revocable-auth/verifier/internal";

export interface UserRecord {
  readonly id: string;
  /** Lower-cased; unique. */
  readonly email: string;
  readonly roles: readonly Role[];
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly disabled: boolean;
  /** True while the user has a second factor on: their aal1 tokens are refused (MFA_REQUIRED). Absent: false. */
  readonly mfaEnabled?: boolean;
  /** Proven by a mailed link (verification, reset or email change); absent on older records: false. */
  readonly emailVerified?: boolean;
}

/**
 * What a mailed link's token is for; each user holds at most one live token per purpose.
 * "registration": a registration waiting for its link (REQUIRE_VERIFIED_EMAIL=on), under the user
 * id the account will get; no account exists until the link is used.
 */
export type MailTokenPurpose = "password_reset" | "email_verification" | "email_change" | "email_change_cancel" | "registration";

/** A mailed link's token as stored: only its hash, so no store can leak a working link. */
export interface MailTokenRecord {
  /** SHA-256 of the token's secret, base64url. */
  readonly hash: string;
  /** Epoch ms, by the API's clock. */
  readonly expiresAt: number;
  /** The address it was mailed to: the account's (reset, verification) or the new one (email change). */
  readonly email: string;
  /**
   * Email change: the session that asked for it, which keeps working after the change. The change
   * dies with it: confirming needs this session still live (and the account enabled).
   */
  readonly sessionId?: string;
  /** Registration: the argon2 hash of the password chosen, which the account gets when the link is used. */
  readonly passwordHash?: string;
}

/** Which token a mailed link presents, and when. */
export interface PresentedMailToken {
  readonly userId: string;
  readonly hash: string;
  /** Epoch ms, by the API's clock: the token counts as expired from its expiresAt on. */
  readonly now: number;
}

export type EmailChangeResult =
  /** `keptSessionId`: the session that asked, which goes on. */
  | { readonly status: "changed"; readonly user: UserRecord; readonly ended: number; readonly keptSessionId: string }
  /** Another account holds the new address now; nothing changed and the token is gone. */
  | { readonly status: "taken" }
  /**
   * Unknown, used, expired, superseded or cancelled token; or what vouched for it is gone: the
   * session that asked ended, or the account was disabled.
   */
  | { readonly status: "invalid" };

export type EmailChangeCancelResult =
  /** `reverted`: the change had gone through, and the account is back on the address the notice went to. */
  | { readonly status: "cancelled"; readonly user: UserRecord; readonly ended: number; readonly reverted: boolean }
  | { readonly status: "invalid" };

export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  readonly device: string | null;
  /** Epoch milliseconds, from the store's clock, so every instance orders sessions the same way. */
  readonly createdAt: number;
  readonly lastUsedAt: number;
  /** When the current refresh token, and with it the session, expires. */
  readonly expiresAt: number;
  /** The jti of the one refresh token that may rotate this session next. */
  readonly refreshJti: string;
  /** Set by the last rotation; absent before the first, and cleared by a step-up. */
  readonly rotation?: SessionRotation;
  /**
   * How the session's user was authenticated (src/auth/tokens/assurance.ts): what every access token of
   * the session claims. Only stepUpSession raises it. Absent on sessions begun before it was
   * recorded, which count as aal1 ["pwd"].
   */
  readonly assurance?: Assurance;
  /** The credential id of the passkey that signed this session in; removing the passkey ends it. */
  readonly passkeyId?: string;
  /**
   * Epoch ms, by the API's clock: when the session's user last proved a credential in it (the
   * sign-in, a step-up, reauthenticate). Adding a credential needs it recent (REAUTH_MAX_AGE_SECONDS).
   * Absent on sessions begun before it was recorded: never recent.
   */
  readonly authenticatedAt?: number;
  /**
   * True while the session waits for its second factor (PendingLimits): it does not count toward
   * the cap of full sessions, ends at its own short expiry, and stepUpSession makes it a full one.
   */
  readonly pending?: true;
}

/**
 * What the last rotation did, enough to hand its outcome out again inside the grace window: the
 * current refresh token is re-signed from `refreshJti`, `issuedAt` and `expiresAt`. No token is stored.
 */
export interface SessionRotation {
  /** The jti the rotation replaced: the only one that gets the current token inside the window. */
  readonly previousJti: string;
  /** Epoch ms, from the store's clock. */
  readonly at: number;
  /** Epoch ms: the `iat` of the current refresh token. */
  readonly issuedAt: number;
}

export interface Credentials {
  readonly user: UserRecord;
  readonly passwordHash: string;
}

export interface NewSession {
  readonly id: string;
  readonly userId: string;
  readonly device: string | null;
  readonly expiresAt: number;
  readonly refreshJti: string;
  readonly assurance: Assurance;
  /**
   * The password hash a login just checked: the session starts only while it is still the
   * user's, so a login that checked a password changed meanwhile starts nothing. Never stored.
   */
  readonly passwordHash?: string;
  /** A passkey sign-in: the session starts only while the user still holds this passkey. */
  readonly passkeyId?: string;
  /** Epoch ms, by the API's clock: the sign-in is the session's first authentication (Sessions.start sets it). */
  readonly authenticatedAt?: number;
}

/** What the per-request check needs, read in one round trip. */
export interface AccessState {
  readonly user: UserRecord | null;
  readonly session: SessionRecord | null;
  /** Sessions created at or before this instant (epoch ms) were ended by "log out everywhere". */
  readonly cutoff: number | null;
  readonly accessTokenRevoked: boolean;
}

/** Which token `accessStates` reads the state of. */
export interface AccessCheck {
  readonly userId: string;
  readonly sessionId: string;
  readonly jti: string;
}

/**
 * How a sign-in that proved one factor of a user who has a second one on (mfaEnabled, and the new
 * session's assurance is aal1) starts: as a pending session, with its own lifetime and its own
 * cap. Pending sessions are capped among themselves (the oldest pending one ends), are never
 * counted toward `maxPerUser` and never end a full session. The store decides, atomically with its
 * read of the user record, so a factor turned on meanwhile is seen.
 */
export interface PendingLimits {
  /** Epoch ms: the latest a pending session lives (and its refresh token with it). */
  readonly expiresAt: number;
  /** The most pending sessions a user may hold; one more ends the oldest pending one. */
  readonly maxPerUser: number;
}

export type CreateSessionResult =
  /** `evicted`: the ids of the oldest sessions of the same kind (full or pending) the cap ended in the same step. */
  | { readonly status: "created"; readonly session: SessionRecord; readonly evicted: readonly string[] }
  | { readonly status: "user_missing" | "user_disabled" | "credentials_changed" };

export type RotateResult =
  | { readonly status: "rotated"; readonly session: SessionRecord; readonly user: UserRecord }
  /**
   * The presented jti is the one the last rotation replaced, less than `graceMs` ago: nothing
   * changes, and the caller gets that rotation's outcome again (the session as it now stands).
   */
  | { readonly status: "grace"; readonly session: SessionRecord; readonly user: UserRecord }
  /** The presented refresh token was already rotated out: the session has been ended. */
  | { readonly status: "reused" }
  /** No live session: logged out, revoked, expired, cut off, or its user is gone or disabled. */
  | { readonly status: "ended" };

export interface RotateRequest {
  readonly userId: string;
  readonly sessionId: string;
  readonly presentedJti: string;
  readonly nextJti: string;
  readonly nextExpiresAt: number;
  /** Epoch ms: the next refresh token's `iat`, kept so the token can be signed again identically. */
  readonly nextIssuedAt: number;
  /** How long after a rotation the jti it replaced still gets its outcome; 0 = strict (reuse at once). */
  readonly graceMs: number;
}

export interface AccessChange {
  readonly roles?: readonly Role[];
  readonly disabled?: boolean;
}

export type AccessChangeResult =
  | { readonly status: "changed"; readonly user: UserRecord }
  | { readonly status: "last_admin" }
  | { readonly status: "user_missing" };
/**
 * Raises a live session's assurance and starts a new refresh-token family: the current refresh jti
 * is replaced and the last rotation forgotten, so no refresh token issued before the step-up (nor
 * its grace-window replay) can rotate the session again.
 */
export interface StepUpRequest {
  readonly userId: string;
  readonly sessionId: string;
  readonly assurance: Assurance;
  readonly nextJti: string;
  readonly nextExpiresAt: number;
  /** Epoch ms, by the API's clock: the factor just proved is a fresh authentication. */
  readonly authenticatedAt: number;
  /**
   * The cap of full sessions (MAX_SESSIONS_PER_USER): a pending session the step-up makes full
   * counts toward it from now on, and the oldest full sessions beyond it end in the same step.
   */
  readonly maxPerUser?: number;
}

export type StepUpResult =
  /**
   * `upgraded`: the session was pending and is now a full one (its sign-in completes here);
   * `evicted`: the full sessions the cap ended for it.
   */
  | {
      readonly status: "raised";
      readonly session: SessionRecord;
      readonly user: UserRecord;
      readonly upgraded: boolean;
      readonly evicted: readonly string[];
    }
  /** No live session: logged out, revoked, expired, cut off, or its user is gone or disabled. */
  | { readonly status: "ended" };

export interface RevokedAccessToken {
  readonly jti: string;
  /** Epoch ms: the revocation entry lives until then, when the token would have expired anyway. */
  readonly expiresAt: number;
}

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

/**
 * A WebAuthn credential of a user (src/auth/passkeys/passkeys.ts). Only public material: the private key
 * never leaves the authenticator.
 */
export interface PasskeyRecord {
  /** The credential id, base64url, as the authenticator made it. */
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  /** The COSE public key, base64url. */
  readonly publicKey: string;
  /** The last signature counter seen; 0 for an authenticator that does not count. */
  readonly counter: number;
  readonly transports: readonly string[];
  /** Backup eligible: a synced ("multi-device") passkey rather than one bound to its hardware. */
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms of the last sign-in with it; null before the first. */
  readonly lastUsedAt: number | null;
}

export type AddPasskeyResult = "added" | "taken" | "user_missing" | "limit";

export type UsePasskeyResult =
  | { readonly status: "used"; readonly passkey: PasskeyRecord }
  /** The counter did not go up although the authenticator counts: a possible clone; nothing changed. */
  | { readonly status: "counter_regressed"; readonly passkey: PasskeyRecord }
  | { readonly status: "missing" };

export type RemovePasskeyResult =
  /** `ended`: how many live sessions the passkey had started, ended in the same step. */
  | { readonly status: "removed"; readonly ended: number; readonly sessionIds: readonly string[] }
  | { readonly status: "missing" }
  /** No password and no other passkey: the user would have no way in. Nothing changed. */
  | { readonly status: "last_way_in" };

/** A challenge handed out with WebAuthn options, until its response comes back (or it expires). */
export interface WebAuthnChallenge {
  readonly ceremony: "registration" | "authentication";
  /** The base64url challenge, as the response's clientDataJSON must carry it. */
  readonly challenge: string;
  /** Registration: the signed-in user it was issued to; null for a sign-in. */
  readonly userId: string | null;
}

/** Where a page of users starts: right after this user, in (createdAt, id) order. */
export interface UserPosition {
  /** Epoch ms. */
  readonly createdAt: number;
  readonly id: string;
}

export interface UserPageRequest {
  readonly first: number;
  readonly after: UserPosition | null;
}

export interface UserPage {
  /** At most `first` users, oldest first, ties broken by id. */
  readonly users: readonly UserRecord[];
  readonly hasNextPage: boolean;
  readonly totalCount: number;
}

/**
 * One audit event as the store keeps it: who (`actorId`) did what (`type`) about whom (`userId`),
 * from where. Never a secret: the domain builds it from ids, addresses and plain values only.
 */
export interface AuditEntry {
  /** Unique to the event and the same in every stream that holds it (AuditRecord.id is not). */
  readonly eventId: string;
  /** Upper snake case: SIGNED_IN, LOGIN_FAILED, USER_DISABLED, ... */
  readonly type: string;
  /** Who did it; null when the user themself or the system did. */
  readonly actorId: string | null;
  /** Whom it is about; null when nobody is known (a failed login for an unknown email). */
  readonly userId: string | null;
  readonly sessionId: string | null;
  readonly clientIp: string | null;
  readonly userAgent: string | null;
  readonly device: string | null;
  /** Plain values only (ids, flags, counts, role names). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** An entry read back: its place in the stream and when the store wrote it. */
export interface AuditRecord extends AuditEntry {
  /** The stream entry id, "<ms>-<seq>": ordered, unique within its stream, but not across streams. */
  readonly id: string;
  /** Epoch ms, from the store's clock. */
  readonly at: number;
}

/**
 * Which of a user's two streams an event about them goes to. "history": what the user, an admin or
 * the system did. "attempts": what anyone can cause by naming the user, without their credentials
 * (a failed sign-in, a password reset request). Each is trimmed to maxPerUser on its own, so a flood
 * of attempts cannot push the user's history out; they are read together, and a user's ids are
 * unique across both, so one id orders a page of the two.
 */
export type UserAuditStream = "history" | "attempts";

/** How much of the trail is kept; trimming is approximate, so a write stays O(1). */
export interface AuditRetention {
  readonly maxAgeMs: number;
  /** Per user's stream: their history, and their attempts, each. */
  readonly maxPerUser: number;
  /** The global stream. */
  readonly maxGlobal: number;
}

export interface AuditRead {
  /** The user's own streams (history and attempts, merged); null: the global stream. */
  readonly userId: string | null;
  /** Only entries older than this id (a page's last); null: from the newest. */
  readonly before: string | null;
  /** Epoch ms bounds on `at`, inclusive; null: unbounded. */
  readonly from: number | null;
  readonly to: number | null;
  readonly count: number;
}

/**
 * A reader that follows the global audit stream from the moment it was opened: each `read` hands
 * over what was appended since the last one, oldest first, so nothing is skipped or repeated while
 * it stays open. Redis: XREAD BLOCK on a connection of its own; memory: a wait on the next append.
 */
export interface AuditTail {
  /**
   * Entries appended after the last one read (at first: after the tail was opened), oldest first,
   * at most `count`. With none yet, waits up to `blockMs` for one, then resolves empty. Rejects when
   * the store cannot answer; the position is kept, so the next read goes on from it.
   */
  read(blockMs: number, count: number): Promise<AuditRecord[]>;
  /** Frees the tail's connection; a pending read resolves empty at once. */
  close(): void;
}

/**
 * The one interface between the auth services and storage. Every method that changes state is
 * one atomic step: in Redis a single command, MULTI or Lua script on keys that share the user's
 * hash tag (createUser alone takes two ordered steps, see the key layout in the verifier package's
 * keys.ts); in memory a synchronous function. The listings read in two steps. The contract suite in
 * test/contract holds both to it.
 */
export interface Store {
  /** Stores a new user and claims its email. False when the email is taken. */
  createUser(user: UserRecord, passwordHash: string): Promise<boolean>;
  findUserIdByEmail(email: string): Promise<string | null>;
  getUser(userId: string): Promise<UserRecord | null>;
  /** The user and their password hash, read together. */
  getCredentials(userId: string): Promise<Credentials | null>;
  /**
   * One page of users in (createdAt, id) order, after a position: a page boundary stays put while
   * users are added, since a new user sorts after every existing one (or, within the same ms, by id).
   */
  listUsers(page: UserPageRequest): Promise<UserPage>;
  /** Sets the flag; disabling also ends every session. Null when no such user. */
  setUserDisabled(userId: string, disabled: boolean): Promise<UserRecord | null>;

  /**
   * Starts a session unless the user is missing or disabled, or its password is no longer
   * `session.passwordHash` when that is given, atomically with those checks. With
   * `maxPerUser`, the user's oldest live full sessions beyond it end in the same step. With
   * `pending`, an aal1 session of a user who has a second factor on starts pending (PendingLimits).
   */
  createSession(session: NewSession, maxPerUser?: number, pending?: PendingLimits): Promise<CreateSessionResult>;
  /**
   * Rotates the refresh token when `presentedJti` is the current one; ends the session on reuse.
   * A pending session keeps its own expiry: `nextExpiresAt` never lengthens it.
   */
  rotateSession(request: RotateRequest): Promise<RotateResult>;
  /** Raises the session's assurance with a new refresh-token family, in one step (StepUpRequest). */
  stepUpSession(request: StepUpRequest): Promise<StepUpResult>;
  /**
   * Records that the session's user just proved a credential (`authenticatedAt`, never moved
   * back), in one step with the check that the session is live. False, changing nothing, otherwise.
   */
  markSessionAuthenticated(userId: string, sessionId: string, at: number): Promise<boolean>;
  /**
   * Ends one session and, when given, revokes one access token, in one atomic step.
   * The session as it was when it was live and this ended it; null when it was not.
   */
  endSession(userId: string, sessionId: string, revoke?: RevokedAccessToken): Promise<SessionRecord | null>;
  /**
   * Ends every session of the user with one cutoff write, and cancels a pending email change in
   * the same step; returns how many were live.
   */
  endAllSessions(userId: string): Promise<number>;
  /** Ends every session of the user but `keepSessionId`, in one step; returns how many were live. */
  endOtherSessions(userId: string, keepSessionId: string): Promise<number>;
  /**
   * Stores a new password hash, ends every session but `keepSessionId` and cancels a pending email
   * change, in one step. False, changing nothing, when `keepSessionId` is no longer live.
   */
  changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean>;
  /** Replaces the user's roles. Null when no such user. */
  setUserRoles(userId: string, roles: readonly Role[]): Promise<UserRecord | null>;
  /**
   * Changes a user's roles and/or disabled flag (disabling ends every session and cancels a pending
   * email change), keeping the index
   * of enabled admins equal to the records. With `keepAnAdmin`, a change that would leave no
   * enabled admin is refused and changes nothing. Changes of one user, from any instance, apply in
   * one order and the last one decided wins (see docs/revocation.md). setUserDisabled and
   * setUserRoles are this without the guard.
   */
  changeAccess(userId: string, change: AccessChange, keepAnAdmin: boolean): Promise<AccessChangeResult>;
  /** Live full sessions, newest first: a pending one (waiting for its second factor) is not listed. */
  listSessions(userId: string): Promise<SessionRecord[]>;

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

  /**
   * Stores a new passkey for its user: claims the credential id on the directory, then adds it to
   * the user's passkeys (at most `max`). "taken" when another user holds that credential id, or
   * this user already does.
   */
  addPasskey(passkey: PasskeyRecord, max: number): Promise<AddPasskeyResult>;
  /** Who holds this credential id, if anyone: the discoverable sign-in's lookup. */
  passkeyOwner(credentialId: string): Promise<string | null>;
  getPasskey(userId: string, credentialId: string): Promise<PasskeyRecord | null>;
  /** Oldest first. */
  listPasskeys(userId: string): Promise<PasskeyRecord[]>;
  /** Null when the user holds no such passkey. */
  renamePasskey(userId: string, credentialId: string, name: string): Promise<PasskeyRecord | null>;
  /**
   * Records a sign-in with the passkey: its new signature counter and last use, in one step that
   * refuses a counter that did not go up (unless both are 0, an authenticator that does not count).
   */
  usePasskey(userId: string, credentialId: string, counter: number): Promise<UsePasskeyResult>;
  /**
   * Removes a passkey and ends the sessions it started, in one step, unless it is the user's last
   * way in (no password, no other passkey); then frees its credential id on the directory.
   */
  removePasskey(userId: string, credentialId: string): Promise<RemovePasskeyResult>;
  /** Keeps a challenge under `id` for `ttlMs`. */
  saveChallenge(id: string, challenge: WebAuthnChallenge, ttlMs: number): Promise<void>;
  /** Returns the challenge and forgets it, in one step: a second take of the same id gets null. */
  takeChallenge(id: string): Promise<WebAuthnChallenge | null>;

  /** Stores the user's token for `purpose`, replacing (so invalidating) any earlier one. */
  putMailToken(userId: string, purpose: MailTokenPurpose, token: MailTokenRecord): Promise<void>;
  /** True when the user's live token for `purpose` has this hash; reads only. */
  mailTokenMatches(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<boolean>;
  /** The user's token for `purpose` as stored (a hash, never a working link) while live at `now`; reads only. */
  readMailToken(userId: string, purpose: MailTokenPurpose, now: number): Promise<MailTokenRecord | null>;
  /**
   * Consumes the user's token for `purpose` when its hash matches, in one step, and returns it
   * while live; null otherwise. A wrong hash leaves the token in place; a matching expired one is
   * consumed anyway, as the other takes do.
   */
  takeMailToken(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<MailTokenRecord | null>;
  /**
   * Consumes a live password_reset token mailed to the user's current address and, in the same
   * step, stores the new password hash, marks the address verified and ends every session (the
   * "log out everywhere" cutoff), and cancels a pending email change. Null, changing nothing,
   * when the token does not match.
   */
  resetPassword(token: PresentedMailToken, passwordHash: string): Promise<UserRecord | null>;
  /**
   * Consumes a live email_verification token and marks the address verified, when the token was
   * mailed to the user's current address. Null otherwise (a matching token is consumed anyway).
   */
  verifyEmail(token: PresentedMailToken): Promise<UserRecord | null>;
  /**
   * Consumes a live email_change token: the new address is claimed on the directory (one account
   * per address), the old one released, the record switched and marked verified, and every
   * session but the one that asked ends. Redis: a claim on {directory}, then one script on the
   * user's slot; a failed second step gives the address back.
   */
  changeEmail(token: PresentedMailToken): Promise<EmailChangeResult>;
  /**
   * Consumes a live email_change_cancel token ("this was not me", mailed to the old address): the
   * pending change is cancelled, every session ends and the password is removed (whoever asked knew
   * it; a reset sets a new one), in one step. When the account is on another
   * address than the one the token was mailed to (a change went through), it moves back to that
   * address, unless another account claimed it meanwhile. Redis: as changeEmail, a claim on
   * {directory} first, given back when the user's script does not take it.
   */
  cancelEmailChange(token: PresentedMailToken): Promise<EmailChangeCancelResult>;

  /** The per-request read: one round trip. */
  accessState(userId: string, sessionId: string, jti: string): Promise<AccessState>;

  /**
   * `accessState` for many tokens in one round trip per batch (a pipeline; on a Cluster the reads
   * go out together, one per slot): the periodic re-check of live connections. Same order as asked.
   */
  accessStates(checks: readonly AccessCheck[]): Promise<AccessState[]>;

  /**
   * Appends one audit event to the global stream and, when it names a user, to that user's
   * `userStream` (on the user's slot), trimming each approximately to `retention`. Two steps, one
   * per slot.
   */
  appendAuditEvent(entry: AuditEntry, retention: AuditRetention, userStream?: UserAuditStream): Promise<void>;
  /** Up to `count` entries, newest first: of the global stream, or of a user's two merged. */
  readAuditEvents(read: AuditRead): Promise<AuditRecord[]>;
  /**
   * Opens a tail of the global stream, positioned after its newest entry: the live `auditEvents`
   * subscription's source. Redis opens one connection for it (blocking reads must not hold up the
   * shared one); resolves once that answers. The caller closes it.
   */
  openAuditTail(): Promise<AuditTail>;

  /**
   * Announces the API's key set (keySetVersion of its kids) to verifiers, which read it at most
   * once a second and refetch the JWKS when theirs differs. Written at every start.
   */
  publishKeySetVersion(version: string): Promise<void>;
  /** The last version published; null before any. */
  keySetVersion(): Promise<string | null>;

  /** Throttling counters kept by this store (not instrumented: each call is its own store call). */
  limiter(spec: LimiterSpec): Limiter;

  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The order of listUsers: oldest first, ties broken by id. */
export function compareUserPositions(a: UserPosition, b: UserPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The rule lives in the verifier package, shared with every service that checks revocation. */
export { isLiveSession } from "@revocable-auth/verifier/internal";

/** The order of audit stream ids, "<ms>-<seq>": by time, then sequence. */
export function compareAuditIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs !== bMs ? aMs - bMs : aSeq - bSeq;
}

/** Up to `count` of two newest-first lists of a user's streams, newest first (their ids never coincide). */
export function newestFirst(a: readonly AuditRecord[], b: readonly AuditRecord[], count: number): AuditRecord[] {
  const merged: AuditRecord[] = [];
  let i = 0;
  let j = 0;
  while (merged.length < count && (i < a.length || j < b.length)) {
    if (j >= b.length || (i < a.length && compareAuditIds(a[i]!.id, b[j]!.id) > 0)) merged.push(a[i++]!);
    else merged.push(b[j++]!);
  }
  return merged;
}
