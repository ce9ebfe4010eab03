import { keys } from "./keys";

/**
 * What the per-request revocation check reads in its one round trip, reduced to the fields the
 * rule needs: the auth API's fuller store records fit it as they are.
 */
export interface AccessState {
  readonly user: { readonly disabled: boolean } | null;
  readonly session: { readonly createdAt: number } | null;
  /** Sessions created at or before this instant (epoch ms) were ended by "log out everywhere". */
  readonly cutoff: number | null;
  readonly accessTokenRevoked: boolean;
}

/** A session is live when it exists and began after the user's last "log out everywhere". */
export function isLiveSession<S extends { readonly createdAt: number }>(session: S | null, cutoff: number | null): session is S {
  return session !== null && session.createdAt > (cutoff ?? 0);
}

/** The four keys of the per-request check, in the order parseAccessState reads them: one MGET, one hash slot. */
export function accessStateKeys(userId: string, sessionId: string, jti: string): [string, string, string, string] {
  return [keys.user(userId), keys.session(userId, sessionId), keys.cutoff(userId), keys.revokedAccessToken(userId, jti)];
}

/** The MGET's answer, read back into records. */
export function parseAccessState<U extends { readonly disabled: boolean }, S extends { readonly createdAt: number }>(
  values: readonly (string | null)[],
): { user: U | null; session: S | null; cutoff: number | null; accessTokenRevoked: boolean } {
  const [user, session, cutoff, revoked] = values;
  return {
    user: user == null ? null : (JSON.parse(user) as U),
    session: session == null ? null : (JSON.parse(session) as S),
    cutoff: cutoff == null ? null : Number(cutoff),
    accessTokenRevoked: revoked != null,
  };
}
