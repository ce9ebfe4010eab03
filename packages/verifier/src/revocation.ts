import { isLiveSession, type AccessState } from "./access-state";

/**
 * The revocation rule for an access token whose signature and expiry already check out: it is
 * refused when its own jti was revoked (logout), when its session is no longer live (ended,
 * reused, cut off by "log out everywhere", expired), or when its user is gone or disabled.
 */
export function isRevoked(state: AccessState): boolean {
  if (state.accessTokenRevoked) return true;
  if (state.user === null || state.user.disabled) return true;
  return !isLiveSession(state.session, state.cutoff);
}

/** What ended a token's validity; reported to metrics. */
export type RevocationKind =
  | "logout"
  | "session"
  | "all_sessions"
  | "other_sessions"
  | "password_change"
  | "refresh_reuse"
  | "user_disabled"
  | "password_reset"
  | "email_change";

export type RevocationListener = (kind: RevocationKind) => void;
