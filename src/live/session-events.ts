import type { IdentityChangedEvent, RevocationEvent, RevocationKind } from "@revocable-auth/verifier/internal";

export type SessionEventType = "SIGNED_IN" | "SESSION_ENDED" | "PASSWORD_CHANGED" | "ROLES_CHANGED" | "IDENTITY_LINKED" | "IDENTITY_UNLINKED";

/** What a `sessionEvents` subscriber is told about the user's other sessions. */
export interface SessionEventRecord {
  readonly type: SessionEventType;
  /**
   * The session that began or ended (IDENTITY_*: the session that linked or unlinked); null when the
   * event is about the user, or about several sessions.
   */
  readonly sessionId: string | null;
  /** SIGNED_IN: the new session's device name; SESSION_ENDED: the ended one's, when the event names one session. */
  readonly device: string | null;
  /** Epoch ms, from the event. */
  readonly at: number;
  /** SESSION_ENDED: what ended it. */
  readonly reason: RevocationKind | null;
  /** IDENTITY_*: the sign-in provider; SIGNED_IN: the provider the session began with. Absent otherwise. */
  readonly provider?: string;
}

/** What the user's other connections hear of a provider identity linked or unlinked. */
export function identityNotice(event: IdentityChangedEvent): SessionEventRecord {
  return { type: event.change === "linked" ? "IDENTITY_LINKED" : "IDENTITY_UNLINKED", sessionId: event.sessionId ?? null, device: null, at: event.at, reason: null, provider: event.provider };
}

/** What a connection that stays open hears of a revocation that did not end its own session. */
export function noticeOf(event: RevocationEvent): SessionEventRecord | null {
  const base = { sessionId: null, device: null, at: event.at, reason: null };
  switch (event.kind) {
    case "password_change":
      return { ...base, type: "PASSWORD_CHANGED" };
    case "roles_changed":
      return { ...base, type: "ROLES_CHANGED" };
    case "all_sessions":
    case "password_reset":
    case "email_change_cancelled":
    case "user_disabled":
      return null;
    default:
      return { ...base, type: "SESSION_ENDED", sessionId: event.sessionId ?? null, device: event.device ?? null, reason: event.kind };
  }
}
