import { RateLimiterMemory } from "rate-limiter-flexible";
import type { Clock } from "../../clock";
import { FlexibleLimiter, type Limiter, type LimiterSpec } from "../limiter";
import type {
  AccessCheck,
  AccessChange,
  AccessChangeResult,
  AccessState,
  AuditEntry,
  AuditRead,
  AuditRecord,
  AuditRetention,
  AuditTail,
  UserAuditStream,
  AcceptStepResult,
  EnableTotpRequest,
  EnableTotpResult,
  AddPasskeyResult,
  CreateSessionResult,
  Credentials,
  EmailChangeCancelResult,
  EmailChangeResult,
  MailTokenPurpose,
  MailTokenRecord,
  NewSession,
  PasskeyRecord,
  PendingLimits,
  RemovePasskeyResult,
  PresentedMailToken,
  RevokedAccessToken,
  Role,
  RotateRequest,
  RotateResult,
  SessionRecord,
  StepUpRequest,
  StepUpResult,
  Store,
  TotpRecord,
  UserPage,
  UserPageRequest,
  UserRecord,
  UsePasskeyResult,
  WebAuthnChallenge,
} from "../store";
import { compareAuditIds, compareUserPositions, isLiveSession, newestFirst } from "../store";

interface Cutoff {
  readonly at: number;
  readonly until: number;
}

const SWEEP_EVERY_MS = 60_000;
const GLOBAL_AUDIT = Symbol("global audit stream");

/** Like the Redis key, a stream vanishes whole once its newest entry is older than the retention. */
interface AuditStream {
  readonly records: AuditRecord[];
  expiresAt: number;
}

/**
 * The embedded store: the same contract as Redis, for one process. Each method is one synchronous
 * step, so it is atomic the way a Lua script is. Expired entries are invisible at once and are
 * swept out periodically, so memory does not grow with past tokens.
 */
export class MemoryStore implements Store {
  private readonly users = new Map<string, UserRecord>();
  private readonly passwords = new Map<string, string>();
  private readonly emails = new Map<string, string>();
  private readonly sessions = new Map<string, Map<string, SessionRecord>>();
  private readonly cutoffs = new Map<string, Cutoff>();
  /** `${userId}/${jti}` → epoch ms the entry expires. */
  private readonly revoked = new Map<string, number>();
  private readonly enabledAdmins = new Set<string>();
  /** The audit streams, oldest first: one per user, and the global one under GLOBAL_AUDIT. */
  private readonly audit = new Map<string | typeof GLOBAL_AUDIT, AuditStream>();
  /** The last id each audit stream made, as Redis keeps a stream's last-generated-id. */
  private readonly lastMade = new Map<string | typeof GLOBAL_AUDIT, string>();
  /** Open tails of the global stream, woken by each append to it. */
  private readonly auditTails = new Set<MemoryAuditTail>();
  private publishedKeySet: string | null = null;
  private readonly totps = new Map<string, Omit<TotpRecord, "failures">>();
  private readonly totpFailures = new Map<string, number>();
  private readonly totpEnrolments = new Map<string, { sealedSecret: string; expiresAt: number }>();
  private readonly recoveryCodes = new Map<string, Set<string>>();
  /** userId → credential id → passkey. */
  private readonly passkeys = new Map<string, Map<string, PasskeyRecord>>();
  private readonly passkeyOwners = new Map<string, string>();
  private readonly challenges = new Map<string, { readonly challenge: WebAuthnChallenge; readonly until: number }>();
  /** `${userId}/${purpose}` → the user's one live token for that purpose. */
  private readonly mailTokens = new Map<string, MailTokenRecord>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly clock: Clock) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  async createUser(user: UserRecord, passwordHash: string): Promise<boolean> {
    if (this.emails.has(user.email) || this.users.has(user.id)) return false;
    this.users.set(user.id, user);
    this.passwords.set(user.id, passwordHash);
    this.emails.set(user.email, user.id);
    return true;
  }

  async findUserIdByEmail(email: string): Promise<string | null> {
    return this.emails.get(email) ?? null;
  }

  async getUser(userId: string): Promise<UserRecord | null> {
    return this.users.get(userId) ?? null;
  }

  async getCredentials(userId: string): Promise<Credentials | null> {
    const user = this.users.get(userId);
    const passwordHash = this.passwords.get(userId);
    return user && passwordHash ? { user, passwordHash } : null;
  }

  async listUsers({ first, after }: UserPageRequest): Promise<UserPage> {
    const sorted = [...this.users.values()].sort(compareUserPositions);
    const rest = after ? sorted.filter((user) => compareUserPositions(user, after) > 0) : sorted;
    return { users: rest.slice(0, first), hasNextPage: rest.length > first, totalCount: sorted.length };
  }

  async setUserDisabled(userId: string, disabled: boolean): Promise<UserRecord | null> {
    const result = await this.changeAccess(userId, { disabled }, false);
    return result.status === "changed" ? result.user : null;
  }

  /** One synchronous step: the guard, the record and the index together. */
  async changeAccess(userId: string, change: AccessChange, keepAnAdmin: boolean): Promise<AccessChangeResult> {
    const user = this.users.get(userId);
    if (!user) return { status: "user_missing" };
    const updated: UserRecord = { ...user, roles: [...(change.roles ?? user.roles)], disabled: change.disabled ?? user.disabled };
    const isAdmin = (u: UserRecord) => !u.disabled && u.roles.includes("ADMIN");
    if (keepAnAdmin && isAdmin(user) && !isAdmin(updated) && this.enabledAdmins.size - (this.enabledAdmins.has(userId) ? 1 : 0) < 1) {
      return { status: "last_admin" };
    }
    this.users.set(userId, updated);
    if (isAdmin(updated)) this.enabledAdmins.add(userId);
    else this.enabledAdmins.delete(userId);
    if (updated.disabled) {
      this.endAll(userId);
      this.cancelPendingEmailChange(userId);
    }
    return { status: "changed", user: updated };
  }

  async createSession(session: NewSession, maxPerUser?: number, pendingLimits?: PendingLimits): Promise<CreateSessionResult> {
    const user = this.users.get(session.userId);
    if (!user) return { status: "user_missing" };
    if (user.disabled) return { status: "user_disabled" };
    const { passwordHash, ...fields } = session;
    if (passwordHash !== undefined && this.passwords.get(session.userId) !== passwordHash) return { status: "credentials_changed" };
    if (session.passkeyId !== undefined && !this.passkeys.get(session.userId)?.has(session.passkeyId)) return { status: "credentials_changed" };
    const pending = pendingLimits !== undefined && user.mfaEnabled === true && session.assurance.aal !== "aal2";
    const created = Math.max(this.clock.now(), (this.cutoff(session.userId) ?? 0) + 1);
    const record: SessionRecord = pending
      ? { ...fields, expiresAt: Math.min(fields.expiresAt, pendingLimits.expiresAt), pending: true, createdAt: created, lastUsedAt: created }
      : { ...fields, createdAt: created, lastUsedAt: created };
    this.sessionsOf(session.userId).set(session.id, record);
    const evicted = pending
      ? this.endOldest(session.userId, session.id, pendingLimits.maxPerUser, true)
      : maxPerUser === undefined
        ? []
        : this.endOldest(session.userId, session.id, maxPerUser, false);
    return { status: "created", session: record, evicted };
  }

  /**
   * The same step as the Redis script's end_oldest: ends the oldest live sessions of one kind (full,
   * or pending) beyond `max`, never `keep`.
   */
  private endOldest(userId: string, keep: string, max: number, pending: boolean): string[] {
    const sessions = this.sessionsOf(userId);
    const cutoff = this.cutoff(userId);
    const others = [...sessions.keys()]
      .map((id) => this.session(userId, id))
      .filter((s): s is SessionRecord => isLiveSession(s, cutoff) && s.id !== keep && (s.pending === true) === pending)
      .sort((a, b) => a.createdAt - b.createdAt);
    const ended = others.slice(0, Math.max(0, others.length + 1 - max)).map((oldest) => oldest.id);
    for (const id of ended) sessions.delete(id);
    return ended;
  }

  async rotateSession(request: RotateRequest): Promise<RotateResult> {
    const { userId, sessionId } = request;
    const session = this.session(userId, sessionId);
    if (!session) return { status: "ended" };
    const user = this.users.get(userId);
    if (!user || user.disabled || !isLiveSession(session, this.cutoff(userId))) {
      this.sessionsOf(userId).delete(sessionId);
      return { status: "ended" };
    }
    if (session.refreshJti !== request.presentedJti) {
      if (this.withinGrace(session, request)) return { status: "grace", session, user };
      this.sessionsOf(userId).delete(sessionId);
      return { status: "reused" };
    }
    const now = this.clock.now();
    const rotated: SessionRecord = {
      ...session,
      refreshJti: request.nextJti,
      lastUsedAt: now,
      // A refresh never lengthens a pending session: only the step-up makes it a full one.
      expiresAt: session.pending ? Math.min(session.expiresAt, request.nextExpiresAt) : request.nextExpiresAt,
      rotation: { previousJti: request.presentedJti, at: now, issuedAt: request.nextIssuedAt },
    };
    this.sessionsOf(userId).set(sessionId, rotated);
    return { status: "rotated", session: rotated, user };
  }

  async stepUpSession(request: StepUpRequest): Promise<StepUpResult> {
    const { userId, sessionId } = request;
    const session = this.session(userId, sessionId);
    const user = this.users.get(userId);
    if (!session || !user || user.disabled || !isLiveSession(session, this.cutoff(userId))) return { status: "ended" };
    const { rotation: _forgotten, pending, ...rest } = session;
    const raised: SessionRecord = {
      ...rest,
      assurance: request.assurance,
      refreshJti: request.nextJti,
      expiresAt: request.nextExpiresAt,
      lastUsedAt: this.clock.now(),
      authenticatedAt: Math.max(session.authenticatedAt ?? 0, request.authenticatedAt),
    };
    this.sessionsOf(userId).set(sessionId, raised);
    const upgraded = pending === true;
    const evicted = upgraded && request.maxPerUser !== undefined ? this.endOldest(userId, sessionId, request.maxPerUser, false) : [];
    return { status: "raised", session: raised, user, upgraded, evicted };
  }

  async markSessionAuthenticated(userId: string, sessionId: string, at: number): Promise<boolean> {
    const session = this.session(userId, sessionId);
    const user = this.users.get(userId);
    if (!session || !user || user.disabled || !isLiveSession(session, this.cutoff(userId))) return false;
    this.sessionsOf(userId).set(sessionId, { ...session, authenticatedAt: Math.max(session.authenticatedAt ?? 0, at) });
    return true;
  }

  async endSession(userId: string, sessionId: string, revoke?: RevokedAccessToken): Promise<SessionRecord | null> {
    if (revoke && revoke.expiresAt > this.clock.now()) {
      this.revoked.set(`${userId}/${revoke.jti}`, revoke.expiresAt);
    }
    const session = this.session(userId, sessionId);
    this.sessionsOf(userId).delete(sessionId);
    return session && isLiveSession(session, this.cutoff(userId)) ? session : null;
  }

  async endAllSessions(userId: string): Promise<number> {
    this.cancelPendingEmailChange(userId);
    return this.endAll(userId);
  }

  async endOtherSessions(userId: string, keepSessionId: string): Promise<number> {
    return this.endOthers(userId, keepSessionId);
  }

  async changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean> {
    if (!isLiveSession(this.session(userId, keepSessionId), this.cutoff(userId))) return false;
    this.passwords.set(userId, passwordHash);
    this.endOthers(userId, keepSessionId);
    this.cancelPendingEmailChange(userId);
    return true;
  }

  async setUserRoles(userId: string, roles: readonly Role[]): Promise<UserRecord | null> {
    const result = await this.changeAccess(userId, { roles }, false);
    return result.status === "changed" ? result.user : null;
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const cutoff = this.cutoff(userId);
    return [...this.sessionsOf(userId).keys()]
      .map((id) => this.session(userId, id))
      .filter((session): session is SessionRecord => isLiveSession(session, cutoff) && session.pending !== true)
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  async saveTotpEnrolment(userId: string, sealedSecret: string, expiresAt: number): Promise<void> {
    this.totpEnrolments.set(userId, { sealedSecret, expiresAt });
  }

  async getTotpEnrolment(userId: string): Promise<string | null> {
    const enrolment = this.totpEnrolments.get(userId);
    return enrolment && enrolment.expiresAt > this.clock.now() ? enrolment.sealedSecret : null;
  }

  async enableTotp(request: EnableTotpRequest): Promise<EnableTotpResult> {
    const { userId } = request;
    const user = this.users.get(userId);
    if (!user) return "user_missing";
    if (user.mfaEnabled) return "already_enabled";
    if ((await this.getTotpEnrolment(userId)) !== request.sealedSecret) return "no_enrolment";
    this.totps.set(userId, { sealedSecret: request.sealedSecret, lastStep: request.acceptedStep });
    this.totpEnrolments.delete(userId);
    this.totpFailures.delete(userId);
    this.recoveryCodes.set(userId, new Set(request.recoveryCodeHashes));
    this.users.set(userId, { ...user, mfaEnabled: true });
    return "enabled";
  }

  async getTotp(userId: string): Promise<TotpRecord | null> {
    const totp = this.totps.get(userId);
    return totp ? { ...totp, failures: this.totpFailures.get(userId) ?? 0 } : null;
  }

  async acceptTotpStep(userId: string, step: number, lockAfter: number, resealed?: string): Promise<AcceptStepResult> {
    const totp = this.totps.get(userId);
    if (!totp) return "not_enabled";
    if ((this.totpFailures.get(userId) ?? 0) >= lockAfter) return "locked";
    if (step <= totp.lastStep) return "replayed";
    this.totps.set(userId, { sealedSecret: resealed ?? totp.sealedSecret, lastStep: step });
    this.totpFailures.delete(userId);
    return "accepted";
  }

  async recordTotpFailure(userId: string): Promise<number> {
    const failures = (this.totpFailures.get(userId) ?? 0) + 1;
    this.totpFailures.set(userId, failures);
    return failures;
  }

  async useRecoveryCode(userId: string, codeHash: string): Promise<number | null> {
    const codes = this.recoveryCodes.get(userId);
    if (!codes?.delete(codeHash)) return null;
    this.totpFailures.delete(userId);
    return codes.size;
  }

  async replaceRecoveryCodes(userId: string, codeHashes: readonly string[]): Promise<boolean> {
    if (!this.users.get(userId)?.mfaEnabled) return false;
    this.recoveryCodes.set(userId, new Set(codeHashes));
    return true;
  }

  async disableMfa(userId: string): Promise<boolean> {
    const user = this.users.get(userId);
    this.totps.delete(userId);
    this.totpEnrolments.delete(userId);
    this.totpFailures.delete(userId);
    this.recoveryCodes.delete(userId);
    if (!user?.mfaEnabled) return false;
    this.users.set(userId, { ...user, mfaEnabled: false });
    return true;
  }

  async addPasskey(passkey: PasskeyRecord, max: number): Promise<AddPasskeyResult> {
    const owner = this.passkeyOwners.get(passkey.id);
    if (owner !== undefined && owner !== passkey.userId) return "taken";
    if (!this.users.has(passkey.userId)) return "user_missing";
    const held = this.passkeys.get(passkey.userId) ?? new Map<string, PasskeyRecord>();
    if (held.has(passkey.id)) return "taken";
    if (held.size >= max) return "limit";
    held.set(passkey.id, passkey);
    this.passkeys.set(passkey.userId, held);
    this.passkeyOwners.set(passkey.id, passkey.userId);
    return "added";
  }

  async passkeyOwner(credentialId: string): Promise<string | null> {
    return this.passkeyOwners.get(credentialId) ?? null;
  }

  async getPasskey(userId: string, credentialId: string): Promise<PasskeyRecord | null> {
    return this.passkeys.get(userId)?.get(credentialId) ?? null;
  }

  async listPasskeys(userId: string): Promise<PasskeyRecord[]> {
    return [...(this.passkeys.get(userId)?.values() ?? [])].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async renamePasskey(userId: string, credentialId: string, name: string): Promise<PasskeyRecord | null> {
    const passkey = this.passkeys.get(userId)?.get(credentialId);
    if (!passkey) return null;
    const renamed = { ...passkey, name };
    this.passkeys.get(userId)!.set(credentialId, renamed);
    return renamed;
  }

  async usePasskey(userId: string, credentialId: string, counter: number): Promise<UsePasskeyResult> {
    const passkey = this.passkeys.get(userId)?.get(credentialId);
    if (!passkey) return { status: "missing" };
    if ((counter > 0 || passkey.counter > 0) && counter <= passkey.counter) return { status: "counter_regressed", passkey };
    const used = { ...passkey, counter, lastUsedAt: this.clock.now() };
    this.passkeys.get(userId)!.set(credentialId, used);
    return { status: "used", passkey: used };
  }

  async removePasskey(userId: string, credentialId: string): Promise<RemovePasskeyResult> {
    const held = this.passkeys.get(userId);
    if (!held?.has(credentialId)) return { status: "missing" };
    if (!this.passwords.get(userId) && held.size <= 1) return { status: "last_way_in" };
    held.delete(credentialId);
    if (this.passkeyOwners.get(credentialId) === userId) this.passkeyOwners.delete(credentialId);
    const cutoff = this.cutoff(userId);
    const sessions = this.sessionsOf(userId);
    const sessionIds: string[] = [];
    for (const [id, session] of [...sessions]) {
      if (session.passkeyId !== credentialId) continue;
      if (isLiveSession(this.session(userId, id), cutoff)) sessionIds.push(id);
      sessions.delete(id);
    }
    return { status: "removed", ended: sessionIds.length, sessionIds };
  }

  async saveChallenge(id: string, challenge: WebAuthnChallenge, ttlMs: number): Promise<void> {
    this.challenges.set(id, { challenge, until: this.clock.now() + ttlMs });
  }

  async takeChallenge(id: string): Promise<WebAuthnChallenge | null> {
    const entry = this.challenges.get(id);
    this.challenges.delete(id);
    return entry && entry.until > this.clock.now() ? entry.challenge : null;
  }

  async accessState(userId: string, sessionId: string, jti: string): Promise<AccessState> {
    const revokedUntil = this.revoked.get(`${userId}/${jti}`);
    return {
      user: this.users.get(userId) ?? null,
      session: this.session(userId, sessionId),
      cutoff: this.cutoff(userId),
      accessTokenRevoked: revokedUntil !== undefined && revokedUntil > this.clock.now(),
    };
  }

  accessStates(checks: readonly AccessCheck[]): Promise<AccessState[]> {
    return Promise.all(checks.map(({ userId, sessionId, jti }) => this.accessState(userId, sessionId, jti)));
  }

  async appendAuditEvent(entry: AuditEntry, retention: AuditRetention, userStream: UserAuditStream = "history"): Promise<void> {
    this.appendTo(GLOBAL_AUDIT, entry, retention.maxGlobal, retention.maxAgeMs);
    if (entry.userId !== null) {
      const [stream, other] = userStreams(entry.userId, userStream);
      // Above the other stream's last id too, as on Redis: a user's ids never coincide.
      this.appendTo(stream, entry, retention.maxPerUser, retention.maxAgeMs, this.lastMade.get(other));
    }
    for (const tail of this.auditTails) tail.appended();
  }

  async openAuditTail(): Promise<AuditTail> {
    const global = () => this.auditStream(GLOBAL_AUDIT)?.records ?? [];
    const tail = new MemoryAuditTail(global, global().at(-1)?.id ?? "0-0", () => this.auditTails.delete(tail));
    this.auditTails.add(tail);
    return tail;
  }

  async readAuditEvents(read: AuditRead): Promise<AuditRecord[]> {
    if (read.userId === null) return this.readStream(GLOBAL_AUDIT, read);
    const [history, attempts] = userStreams(read.userId, "history");
    return newestFirst(this.readStream(history, read), this.readStream(attempts, read), read.count);
  }

  private readStream(name: string | typeof GLOBAL_AUDIT, { before, from, to, count }: AuditRead): AuditRecord[] {
    const stream = this.auditStream(name)?.records ?? [];
    const found: AuditRecord[] = [];
    for (let i = stream.length - 1; i >= 0 && found.length < count; i--) {
      const record = stream[i]!;
      if (before !== null && compareAuditIds(record.id, before) >= 0) continue;
      if (to !== null && record.at > to) continue;
      if (from !== null && record.at < from) break;
      found.push(record);
    }
    return found;
  }

  /**
   * Bounded like the Redis stream, but exactly: at most `max` entries, none older than `maxAgeMs`.
   * The id is above the last this stream made (kept, like Redis, after its entries are trimmed),
   * and above `floor`.
   */
  private appendTo(stream: string | typeof GLOBAL_AUDIT, entry: AuditEntry, max: number, maxAgeMs: number, floor = "0-0"): void {
    const now = this.clock.now();
    const records = this.auditStream(stream)?.records ?? [];
    const made = this.lastMade.get(stream) ?? "0-0";
    const last = compareAuditIds(made, floor) >= 0 ? made : floor;
    const [lastMs = 0, lastSeq = 0] = last.split("-").map(Number);
    const id = now > lastMs ? `${now}-0` : `${lastMs}-${lastSeq + 1}`;
    this.lastMade.set(stream, id);
    records.push({ ...entry, id, at: Number(id.split("-")[0]) });
    let drop = Math.max(0, records.length - max);
    while (drop < records.length && records[drop]!.at < now - maxAgeMs) drop++;
    records.splice(0, drop);
    this.audit.set(stream, { records, expiresAt: now + maxAgeMs });
  }

  private auditStream(stream: string | typeof GLOBAL_AUDIT): AuditStream | undefined {
    const found = this.audit.get(stream);
    return found && found.expiresAt > this.clock.now() ? found : undefined;
  }

  /** Kept for the contract only: no verifier reads the embedded store. */
  async publishKeySetVersion(version: string): Promise<void> {
    this.publishedKeySet = version;
  }

  async keySetVersion(): Promise<string | null> {
    return this.publishedKeySet;
  }

  async putMailToken(userId: string, purpose: MailTokenPurpose, token: MailTokenRecord): Promise<void> {
    this.mailTokens.set(`${userId}/${purpose}`, token);
  }

  async readMailToken(userId: string, purpose: MailTokenPurpose, now: number): Promise<MailTokenRecord | null> {
    const record = this.mailTokens.get(`${userId}/${purpose}`);
    return record && record.expiresAt > now ? record : null;
  }

  async mailTokenMatches(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<boolean> {
    const record = this.mailTokens.get(`${token.userId}/${purpose}`);
    return record !== undefined && record.hash === token.hash && record.expiresAt > token.now;
  }

  async takeMailToken(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<MailTokenRecord | null> {
    return this.takeToken(token, purpose);
  }

  async resetPassword(token: PresentedMailToken, passwordHash: string): Promise<UserRecord | null> {
    const user = this.users.get(token.userId);
    const record = this.takeToken(token, "password_reset");
    if (!user || !record || record.email !== user.email) return null;
    const updated = { ...user, emailVerified: true };
    this.users.set(user.id, updated);
    this.passwords.set(user.id, passwordHash);
    this.cancelPendingEmailChange(user.id);
    this.endAll(user.id);
    return updated;
  }

  async verifyEmail(token: PresentedMailToken): Promise<UserRecord | null> {
    const user = this.users.get(token.userId);
    const record = this.takeToken(token, "email_verification");
    if (!user || !record || record.email !== user.email) return null;
    const updated = { ...user, emailVerified: true };
    this.users.set(user.id, updated);
    return updated;
  }

  async changeEmail(token: PresentedMailToken): Promise<EmailChangeResult> {
    const user = this.users.get(token.userId);
    const record = this.takeToken(token, "email_change");
    if (!user || !record) return { status: "invalid" };
    // The change dies with what vouched for it: the session that asked, and the account being enabled.
    const asking = record.sessionId;
    if (user.disabled || asking === undefined || !isLiveSession(this.session(user.id, asking), this.cutoff(user.id))) return { status: "invalid" };
    const owner = this.emails.get(record.email);
    if (owner !== undefined && owner !== user.id) return { status: "taken" };
    const updated = this.moveEmail(user, record.email);
    const ended = this.endOthers(user.id, asking);
    return { status: "changed", user: updated, ended, keptSessionId: asking };
  }

  async cancelEmailChange(token: PresentedMailToken): Promise<EmailChangeCancelResult> {
    const user = this.users.get(token.userId);
    const record = this.takeToken(token, "email_change_cancel");
    if (!user || !record) return { status: "invalid" };
    this.cancelPendingEmailChange(user.id);
    this.passwords.delete(user.id);
    const owner = this.emails.get(record.email);
    const reverted = user.email !== record.email && (owner === undefined || owner === user.id);
    const current = reverted ? this.moveEmail(user, record.email) : user;
    return { status: "cancelled", user: current, ended: this.endAll(user.id), reverted };
  }

  /** Claims `email` for the user on the directory, frees the old one, and marks the new one verified. */
  private moveEmail(user: UserRecord, email: string): UserRecord {
    if (this.emails.get(user.email) === user.id) this.emails.delete(user.email);
    this.emails.set(email, user.id);
    const updated = { ...user, email, emailVerified: true };
    this.users.set(user.id, updated);
    return updated;
  }

  private cancelPendingEmailChange(userId: string): void {
    this.mailTokens.delete(`${userId}/email_change`);
  }

  /** Removes and returns the token when it matches and is live; a wrong hash leaves it in place. */
  private takeToken(token: PresentedMailToken, purpose: MailTokenPurpose): MailTokenRecord | null {
    const key = `${token.userId}/${purpose}`;
    const record = this.mailTokens.get(key);
    if (!record || record.hash !== token.hash) return null;
    this.mailTokens.delete(key);
    return record.expiresAt > token.now ? record : null;
  }

  /** Counters in this process's memory, as the store itself is. */
  limiter(spec: LimiterSpec): Limiter {
    return new FlexibleLimiter(new RateLimiterMemory({ keyPrefix: spec.name, points: spec.points, duration: spec.windowSeconds }));
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const tail of [...this.auditTails]) tail.close();
  }

  /** Drops everything that has expired; what is left is exactly what Redis would still hold. */
  sweep(): void {
    const now = this.clock.now();
    for (const [key, until] of this.revoked) if (until <= now) this.revoked.delete(key);
    for (const [key, token] of this.mailTokens) if (token.expiresAt <= now) this.mailTokens.delete(key);
    for (const [userId, cutoff] of this.cutoffs) if (cutoff.until <= now) this.cutoffs.delete(userId);
    for (const [stream, { expiresAt }] of this.audit) {
      if (expiresAt > now) continue;
      this.audit.delete(stream);
      this.lastMade.delete(stream);
    }
    for (const [userId, enrolment] of this.totpEnrolments) if (enrolment.expiresAt <= now) this.totpEnrolments.delete(userId);
    for (const [id, entry] of this.challenges) if (entry.until <= now) this.challenges.delete(id);
    for (const [userId, sessions] of this.sessions) {
      for (const [id, session] of sessions) if (session.expiresAt <= now) sessions.delete(id);
      if (sessions.size === 0) this.sessions.delete(userId);
    }
  }

  /** How many entries that expire (sessions, cutoffs, revocations, challenges) are held; for leak tests. */
  expiringEntryCount(): number {
    let sessions = 0;
    for (const perUser of this.sessions.values()) sessions += perUser.size;
    return sessions + this.cutoffs.size + this.revoked.size + this.challenges.size;
  }

  private endAll(userId: string): number {
    const now = this.clock.now();
    const live = this.listLiveCount(userId);
    const sessions = [...this.sessionsOf(userId).values()];
    const previous = this.cutoffs.get(userId);
    const until = Math.max(now + 1000, previous?.until ?? 0, ...sessions.map((s) => s.expiresAt));
    this.cutoffs.set(userId, { at: Math.max(now, previous?.at ?? 0), until });
    this.sessions.delete(userId);
    return live;
  }

  private withinGrace(session: SessionRecord, request: RotateRequest): boolean {
    const last = session.rotation;
    const now = this.clock.now();
    return last !== undefined && last.previousJti === request.presentedJti && now >= last.at && now - last.at < request.graceMs;
  }

  private endOthers(userId: string, keepSessionId: string): number {
    const cutoff = this.cutoff(userId);
    const sessions = this.sessionsOf(userId);
    let ended = 0;
    for (const id of [...sessions.keys()]) {
      if (id === keepSessionId) continue;
      if (isLiveSession(this.session(userId, id), cutoff)) ended++;
      sessions.delete(id);
    }
    return ended;
  }

  private listLiveCount(userId: string): number {
    const cutoff = this.cutoff(userId);
    let live = 0;
    for (const id of this.sessionsOf(userId).keys()) if (isLiveSession(this.session(userId, id), cutoff)) live++;
    return live;
  }

  private session(userId: string, sessionId: string): SessionRecord | null {
    const session = this.sessions.get(userId)?.get(sessionId);
    return session && session.expiresAt > this.clock.now() ? session : null;
  }

  private cutoff(userId: string): number | null {
    const cutoff = this.cutoffs.get(userId);
    return cutoff && cutoff.until > this.clock.now() ? cutoff.at : null;
  }

  private sessionsOf(userId: string): Map<string, SessionRecord> {
    let sessions = this.sessions.get(userId);
    if (!sessions) {
      sessions = new Map();
      this.sessions.set(userId, sessions);
    }
    return sessions;
  }
}

/** A user's stream for `stream` events, then their other one: the history under the user's id. */
function userStreams(userId: string, stream: UserAuditStream): [string, string] {
  const history = userId;
  const attempts = `attempts:${userId}`;
  return stream === "history" ? [history, attempts] : [attempts, history];
}

/** The embedded store's audit tail: a position in the global stream, and a wait for its next append. */
class MemoryAuditTail implements AuditTail {
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly records: () => readonly AuditRecord[],
    private last: string,
    private readonly onClose: () => void,
  ) {}

  async read(blockMs: number, count: number): Promise<AuditRecord[]> {
    if (this.newer().length === 0 && blockMs > 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.wake?.(), blockMs);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
    if (this.closed) return [];
    const found = this.newer().slice(0, count);
    if (found.length > 0) this.last = found.at(-1)!.id;
    return found;
  }

  /** Called by the store after each append to the global stream. */
  appended(): void {
    this.wake?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    this.wake?.();
  }

  /** The entries after the position, oldest first: walked back from the newest, so a read costs what it returns. */
  private newer(): AuditRecord[] {
    const records = this.records();
    let start = records.length;
    while (start > 0 && compareAuditIds(records[start - 1]!.id, this.last) > 0) start--;
    return records.slice(start);
  }
}
