/**
 * The kernel the auth API shares with every verifier, so the two cannot drift: the Redis key
 * layout, the revocation rule, the checks on a presented token, the outcomes' wording and the live
 * channel's events. For the auth API itself: not part of the package's public API, and it may
 * change in any release (README, "./internal").
 */
export { AALS, meetsAal, needsSecondFactor, type Assurance, type AuthMethod } from "./assurance";
export { accessStateKeys, BOUND_ACCESS_STATE_SCRIPT, boundAccessStateKeys, isLiveSession, parseAccessState, type AccessState } from "./access-state";
export * from "./dpop";
export { ALGORITHMS, keysFromJwks, keySetVersion } from "./key-sources";
export { keys } from "./keys";
export {
  failures,
  identityOf,
  INVALID_TOKEN_CHALLENGE,
  MESSAGES,
  ROLES,
  STORE_RETRY_AFTER,
  type IdentityClaims,
} from "./outcomes";
export { endsSession, isRevoked, revocationCause, type RevocationEvent, type RevocationKind, type RevocationListener } from "./revocation";
export { encodeLiveEvent, LIVE_CHANNEL, parseLiveEvent, type IdentityChangedEvent, type LiveEvent, type SignedInEvent, type UserLiveEvent } from "./live";
export {
  accessClaimsOf,
  refreshClaimsOf,
  TokenChecks,
  VERIFIED_TOKENS_KEPT,
  type AccessTokenClaims,
  type RefreshTokenClaims,
  type TokenChecksOptions,
  type TokenFault,
  type TokenKey,
} from "./token-checks";
export * from "./token-shape";
