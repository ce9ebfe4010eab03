import { isLiveSession, type AccessState } from "./access-state";

/**
 * The revocation rule for an access token whose signature and expiry already check out: it is
 * refused when its own jti was revoked (logout), when its session is no longer live (ended,
 * reused, cut off by "log out everywhere", expired), or when its user is gone or disabled.
 */
export function isRevoked(state: AccessState): boolean {
  return revocationCause(state) !== null;
}

/**
 * Why a token is revoked, for logs (clients all get TOKEN_REVOKED). `user_missing` usually means
 * this Redis is not the auth API's: the user record the API wrote is not in it.
 */
export type RevocationCause = "access_token_revoked" | "user_missing" | "user_disabled" | "session_ended";

export function revocationCause(state: AccessState): RevocationCause | null {
  if (state.accessTokenRevoked) return "access_token_revoked";
  if (state.user === null) return "user_missing";
  if (state.user.disabled) return "user_disabled";
  return isLiveSession(state.session, state.cutoff) ? null : "session_ended";
}

/** What ended a token's validity; reported to metrics and published on the live channel (live.ts). */
export type RevocationKind =
  | "logout"
  | "session"
  | "all_sessions"
  | "other_sessions"
  | "password_change"
  | "refresh_reuse"
  | "user_disabled"
  /** MAX_SESSIONS_PER_USER: a new session ended the user's oldest. */
  | "session_cap"
  /** The user's roles were replaced: tokens and sockets holding the old ones must re-authenticate. */
  | "roles_changed"
  /** A passkey was removed: the sessions it started end. */
  | "passkey_removed"
  /** resetPassword: every session ended, as by "log out everywhere". */
  | "password_reset"
  /** confirmEmailChange: every session but the one that asked ended. */
  | "email_change"
  /** cancelEmailChange ("this was not me"): every session ended. */
  | "email_change_cancelled"
  /** OpenID Connect Back-Channel Logout: the provider ended the session that signed this one in. */
  | "provider_logout";

/**
 * One revocation, as the domain reports it the moment its write succeeded. The scope is one of:
 * one session (`sessionId`), every session but one (`keepSessionId`), or every session of the
 * user (neither).
 */
export interface RevocationEvent {
  readonly kind: RevocationKind;
  readonly userId: string;
  /** Only this session ended. */
  readonly sessionId?: string;
  /** The device name of the session that ended, when it had one (as its client reported it). */
  readonly device?: string;
  /** Every session of the user ended except this one (logoutOthers, changePassword). */
  readonly keepSessionId?: string;
  /** Epoch ms when the revoking write completed; revocation-to-close latency is measured from it. */
  readonly at: number;
}

export type RevocationListener = (event: RevocationEvent) => void;

/** Whether a revocation ends the given session. */
export function endsSession(event: RevocationEvent, sessionId: string): boolean {
  if (event.kind === "roles_changed") return false;
  if (event.sessionId !== undefined) return event.sessionId === sessionId;
  if (event.keepSessionId !== undefined) return event.keepSessionId !== sessionId;
  return true;
}
