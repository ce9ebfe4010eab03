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

/** What ended a token's validity; reported to metrics. */
export type RevocationKind =
  | "logout"
  | "session"
  | "all_sessions"
  | "other_sessions"
  | "password_change"
  | "refresh_reuse"
  | "user_disabled";

export type RevocationListener = (kind: RevocationKind) => void;
