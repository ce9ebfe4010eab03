import { RateLimiterMemory } from "rate-limiter-flexible";
import type { Clock } from "../../clock";
import { FlexibleLimiter, type Limiter, type LimiterSpec } from "../limiter";
import type {
  AccessCheck,
  AccessState,
  CreateSessionResult,
  Credentials,
  NewSession,
  RevokedAccessToken,
  Role,
  RotateRequest,
  RotateResult,
  SessionRecord,
  Store,
  UserPage,
  UserPageRequest,
  UserRecord,
} from "../store";
import { compareUserPositions, isLiveSession } from "../store";

interface Cutoff {
  readonly at: number;
  readonly until: number;
}

const SWEEP_EVERY_MS = 60_000;

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
    const user = this.users.get(userId);
    if (!user) return null;
    const updated = { ...user, disabled };
    this.users.set(userId, updated);
    if (disabled) this.endAll(userId);
    return updated;
  }

  async createSession(session: NewSession, maxPerUser?: number): Promise<CreateSessionResult> {
    const user = this.users.get(session.userId);
    if (!user) return { status: "user_missing" };
    if (user.disabled) return { status: "user_disabled" };
    const { passwordHash, ...fields } = session;
    if (passwordHash !== undefined && this.passwords.get(session.userId) !== passwordHash) return { status: "credentials_changed" };
    const created = Math.max(this.clock.now(), (this.cutoff(session.userId) ?? 0) + 1);
    const record: SessionRecord = { ...fields, createdAt: created, lastUsedAt: created };
    this.sessionsOf(session.userId).set(session.id, record);
    const evicted = maxPerUser === undefined ? [] : this.endOldest(session.userId, session.id, maxPerUser);
    return { status: "created", session: record, evicted };
  }

  /** The same step as the Redis script's end_oldest: ends the oldest live sessions beyond `max`, never `keep`. */
  private endOldest(userId: string, keep: string, max: number): string[] {
    const sessions = this.sessionsOf(userId);
    const cutoff = this.cutoff(userId);
    const others = [...sessions.keys()]
      .map((id) => this.session(userId, id))
      .filter((s): s is SessionRecord => isLiveSession(s, cutoff) && s.id !== keep)
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
      expiresAt: request.nextExpiresAt,
      rotation: { previousJti: request.presentedJti, at: now, issuedAt: request.nextIssuedAt },
    };
    this.sessionsOf(userId).set(sessionId, rotated);
    return { status: "rotated", session: rotated, user };
  }

  async endSession(userId: string, sessionId: string, revoke?: RevokedAccessToken): Promise<boolean> {
    if (revoke && revoke.expiresAt > this.clock.now()) {
      this.revoked.set(`${userId}/${revoke.jti}`, revoke.expiresAt);
    }
    const session = this.session(userId, sessionId);
    this.sessionsOf(userId).delete(sessionId);
    return isLiveSession(session, this.cutoff(userId));
  }

  async endAllSessions(userId: string): Promise<number> {
    return this.endAll(userId);
  }

  async endOtherSessions(userId: string, keepSessionId: string): Promise<number> {
    return this.endOthers(userId, keepSessionId);
  }

  async changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean> {
    if (!isLiveSession(this.session(userId, keepSessionId), this.cutoff(userId))) return false;
    this.passwords.set(userId, passwordHash);
    this.endOthers(userId, keepSessionId);
    return true;
  }

  async setUserRoles(userId: string, roles: readonly Role[]): Promise<UserRecord | null> {
    const user = this.users.get(userId);
    if (!user) return null;
    const updated = { ...user, roles: [...roles] };
    this.users.set(userId, updated);
    return updated;
  }

  async addEnabledAdmin(userId: string): Promise<void> {
    this.enabledAdmins.add(userId);
  }

  async removeEnabledAdmin(userId: string, keepOne: boolean): Promise<boolean> {
    const others = this.enabledAdmins.size - (this.enabledAdmins.has(userId) ? 1 : 0);
    if (keepOne && others < 1) return false;
    this.enabledAdmins.delete(userId);
    return true;
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const cutoff = this.cutoff(userId);
    return [...this.sessionsOf(userId).keys()]
      .map((id) => this.session(userId, id))
      .filter((session) => isLiveSession(session, cutoff))
      .sort((a, b) => b.createdAt - a.createdAt);
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

  /** Counters in this process's memory, as the store itself is. */
  limiter(spec: LimiterSpec): Limiter {
    return new FlexibleLimiter(new RateLimiterMemory({ keyPrefix: spec.name, points: spec.points, duration: spec.windowSeconds }));
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  /** Drops everything that has expired; what is left is exactly what Redis would still hold. */
  sweep(): void {
    const now = this.clock.now();
    for (const [key, until] of this.revoked) if (until <= now) this.revoked.delete(key);
    for (const [userId, cutoff] of this.cutoffs) if (cutoff.until <= now) this.cutoffs.delete(userId);
    for (const [userId, sessions] of this.sessions) {
      for (const [id, session] of sessions) if (session.expiresAt <= now) sessions.delete(id);
      if (sessions.size === 0) this.sessions.delete(userId);
    }
  }

  /** How many entries that expire (sessions, cutoffs, revocations) are held; for leak tests. */
  expiringEntryCount(): number {
    let sessions = 0;
    for (const perUser of this.sessions.values()) sessions += perUser.size;
    return sessions + this.cutoffs.size + this.revoked.size;
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
