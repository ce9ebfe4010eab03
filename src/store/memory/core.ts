import type { Clock } from "../../clock";
import type { FederationFlow } from "../ports/federation";
import type { LinkedIdentity } from "../ports/identities";
import type { OAuthClientRecord } from "../ports/oauth-clients";
import type { OAuthModelPayload } from "../ports/oauth-models";
import { isLiveSession, type AuditRecord, type AuditTail, type MailTokenPurpose, type MailTokenRecord, type PasskeyRecord, type PresentedMailToken, type SessionRecord, type TotpRecord, type UserRecord, type WebAuthnChallenge } from "../store";

interface Cutoff {
  readonly at: number;
  readonly until: number;
}

export const GLOBAL_AUDIT = Symbol("global audit stream");

/** Like the Redis key, a stream vanishes whole once its newest entry is older than the retention. */
export interface AuditStream {
  readonly records: AuditRecord[];
  expiresAt: number;
}

/**
 * The embedded store's state, every map of every concern, and the steps more than one concern
 * takes (ending sessions, taking a mail token). The concern files (users.ts, sessions.ts, ...)
 * each build their port over it; each of their methods is one synchronous step over these maps,
 * so it is atomic the way a Lua script is.
 */
export class MemoryCore {
  readonly users = new Map<string, UserRecord>();
  readonly passwords = new Map<string, string>();
  readonly emails = new Map<string, string>();
  readonly sessions = new Map<string, Map<string, SessionRecord>>();
  readonly cutoffs = new Map<string, Cutoff>();
  /** `${userId}/${jti}` → epoch ms the entry expires. */
  readonly revoked = new Map<string, number>();
  /** DPoP proofs seen: `${userId}/${proofJti}` → epoch ms the entry expires. */
  readonly dpopProofs = new Map<string, number>();
  readonly enabledAdmins = new Set<string>();
  /** The audit streams, oldest first: one per user, and the global one under GLOBAL_AUDIT. */
  readonly audit = new Map<string | typeof GLOBAL_AUDIT, AuditStream>();
  /** The last id each audit stream made, as Redis keeps a stream's last-generated-id. */
  readonly lastMade = new Map<string | typeof GLOBAL_AUDIT, string>();
  /** Open tails of the global stream, woken by each append to it. */
  readonly auditTails = new Set<AuditTail & { appended(): void }>();
  publishedKeySet: string | null = null;
  readonly totps = new Map<string, Omit<TotpRecord, "failures">>();
  readonly totpFailures = new Map<string, number>();
  readonly totpEnrolments = new Map<string, { sealedSecret: string; expiresAt: number }>();
  readonly recoveryCodes = new Map<string, Set<string>>();
  /** userId → credential id → passkey. */
  readonly passkeys = new Map<string, Map<string, PasskeyRecord>>();
  readonly passkeyOwners = new Map<string, string>();
  readonly challenges = new Map<string, { readonly challenge: WebAuthnChallenge; readonly until: number }>();
  /** `${userId}/${purpose}` → the user's one live token for that purpose. */
  readonly mailTokens = new Map<string, MailTokenRecord>();
  /** Provider sign-ins in flight, by the id in the browser's cookie. */
  readonly federationFlows = new Map<string, { readonly flow: FederationFlow; readonly until: number }>();
  /** `${provider}/${jti}` of used logout tokens → epoch ms the entry expires. */
  readonly logoutTokenIds = new Map<string, number>();
  /** Back-channel logouts by `provider/sid/<sid>` or `provider/sub/<subject>`: when received, kept until `until`. */
  readonly providerLogouts = new Map<string, { readonly at: number; readonly until: number }>();
  /** `${provider}/${sid|sub}/${value}` → `${userId} ${sessionId}` → epoch ms the entry expires. */
  readonly providerSessions = new Map<string, Map<string, number>>();
  /** `${provider}:${subject}` → the linked identity. */
  readonly identities = new Map<string, LinkedIdentity>();
  /** oidc-provider's records: `${model}/${id}` → the record and when it expires (epoch ms). */
  readonly oauthModels = new Map<string, { payload: OAuthModelPayload; readonly until: number }>();
  readonly oauthClients = new Map<string, OAuthClientRecord>();

  constructor(readonly clock: Clock) {}

  session(userId: string, sessionId: string): SessionRecord | null {
    const session = this.sessions.get(userId)?.get(sessionId);
    return session && session.expiresAt > this.clock.now() ? session : null;
  }

  /** How many provider identities the user has linked. */
  identitiesOf(userId: string): number {
    let count = 0;
    for (const identity of this.identities.values()) if (identity.userId === userId) count++;
    return count;
  }

  cutoff(userId: string): number | null {
    const cutoff = this.cutoffs.get(userId);
    return cutoff && cutoff.until > this.clock.now() ? cutoff.at : null;
  }

  sessionsOf(userId: string): Map<string, SessionRecord> {
    let sessions = this.sessions.get(userId);
    if (!sessions) {
      sessions = new Map();
      this.sessions.set(userId, sessions);
    }
    return sessions;
  }

  /**
   * The same step as the Redis script's end_oldest: ends the oldest live sessions of one kind (full,
   * or pending) beyond `max`, never `keep`.
   */
  endOldest(userId: string, keep: string, max: number, pending: boolean): string[] {
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

  endAll(userId: string): number {
    const now = this.clock.now();
    const live = this.listLiveCount(userId);
    const sessions = [...this.sessionsOf(userId).values()];
    const previous = this.cutoffs.get(userId);
    const until = Math.max(now + 1000, previous?.until ?? 0, ...sessions.map((s) => s.expiresAt));
    this.cutoffs.set(userId, { at: Math.max(now, previous?.at ?? 0), until });
    this.sessions.delete(userId);
    return live;
  }

  endOthers(userId: string, keepSessionId: string): number {
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

  listLiveCount(userId: string): number {
    const cutoff = this.cutoff(userId);
    let live = 0;
    for (const id of this.sessionsOf(userId).keys()) if (isLiveSession(this.session(userId, id), cutoff)) live++;
    return live;
  }

  cancelPendingEmailChange(userId: string): void {
    this.mailTokens.delete(`${userId}/email_change`);
  }

  /** Removes and returns the token when it matches and is live; a wrong hash leaves it in place. */
  takeToken(token: PresentedMailToken, purpose: MailTokenPurpose): MailTokenRecord | null {
    const key = `${token.userId}/${purpose}`;
    const record = this.mailTokens.get(key);
    if (!record || record.hash !== token.hash) return null;
    this.mailTokens.delete(key);
    return record.expiresAt > token.now ? record : null;
  }

  auditStream(stream: string | typeof GLOBAL_AUDIT): AuditStream | undefined {
    const found = this.audit.get(stream);
    return found && found.expiresAt > this.clock.now() ? found : undefined;
  }

  /** Drops everything that has expired; what is left is exactly what Redis would still hold. */
  sweep(): void {
    const now = this.clock.now();
    for (const [key, until] of this.revoked) if (until <= now) this.revoked.delete(key);
    for (const [key, until] of this.dpopProofs) if (until <= now) this.dpopProofs.delete(key);
    for (const [key, token] of this.mailTokens) if (token.expiresAt <= now) this.mailTokens.delete(key);
    for (const [userId, cutoff] of this.cutoffs) if (cutoff.until <= now) this.cutoffs.delete(userId);
    for (const [stream, { expiresAt }] of this.audit) {
      if (expiresAt > now) continue;
      this.audit.delete(stream);
      this.lastMade.delete(stream);
    }
    for (const [userId, enrolment] of this.totpEnrolments) if (enrolment.expiresAt <= now) this.totpEnrolments.delete(userId);
    for (const [id, entry] of this.challenges) if (entry.until <= now) this.challenges.delete(id);
    for (const [id, entry] of this.federationFlows) if (entry.until <= now) this.federationFlows.delete(id);
    for (const [key, until] of this.logoutTokenIds) if (until <= now) this.logoutTokenIds.delete(key);
    for (const [key, { until }] of this.providerLogouts) if (until <= now) this.providerLogouts.delete(key);
    for (const [key, entries] of this.providerSessions) {
      for (const [entry, until] of entries) if (until <= now) entries.delete(entry);
      if (entries.size === 0) this.providerSessions.delete(key);
    }
    for (const [key, entry] of this.oauthModels) if (entry.until <= now) this.oauthModels.delete(key);
    for (const [userId, sessions] of this.sessions) {
      for (const [id, session] of sessions) if (session.expiresAt <= now) sessions.delete(id);
      if (sessions.size === 0) this.sessions.delete(userId);
    }
  }

  /** How many entries that expire (sessions, cutoffs, revocations, challenges, DPoP proofs) are held; for leak tests. */
  expiringEntryCount(): number {
    let sessions = 0;
    for (const perUser of this.sessions.values()) sessions += perUser.size;
    return sessions + this.cutoffs.size + this.revoked.size + this.challenges.size + this.dpopProofs.size;
  }
}
