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
