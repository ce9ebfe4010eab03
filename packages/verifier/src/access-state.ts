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

/**
 * The per-request read for a DPoP-bound token: the same four keys, then the proof's jti key, all on
 * the user's slot. One script (EVALSHA) reads the state and records the jti (SET NX with a TTL), so
 * the replay check costs no second round trip. Answers the MGET's four values and 1 when the jti
 * was new, 0 when it was seen before (a replay).
 */
export const BOUND_ACCESS_STATE_SCRIPT = `
local state = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
state[5] = redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[1]) and 1 or 0
return state
`;

export function boundAccessStateKeys(userId: string, sessionId: string, jti: string, proofJti: string): [string, string, string, string, string] {
  return [...accessStateKeys(userId, sessionId, jti), keys.dpopProof(userId, proofJti)];
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
