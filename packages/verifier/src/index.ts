export { AALS, meetsAal, needsSecondFactor, type Aal, type Assurance, type AuthMethod } from "./assurance";
export { accessStateKeys, isLiveSession, parseAccessState, type AccessState } from "./access-state";
export { authChecker, authContext, requireAal, toGraphQLError, type AuthContext } from "./graphql";
export {
  ALGORITHMS,
  keysFromJwks,
  keySetVersion,
  RemoteKeys,
  StaticKeys,
  type Algorithm,
  type JsonWebKeySet,
  type KeySource,
  type RemoteKeysOptions,
  type VerificationKey,
} from "./key-sources";
export { keys } from "./keys";
export {
  failures,
  identityOf,
  INVALID_TOKEN_CHALLENGE,
  MESSAGES,
  ROLES,
  STORE_RETRY_AFTER,
  type Failure, type FailureReason, type Identity, type IdentityClaims, type Outcome, type Role, type VerifiedUser } from "./outcomes";
export { endsSession, isRevoked, revocationCause, type RevocationCause, type RevocationEvent, type RevocationKind, type RevocationListener } from "./revocation";
export { LiveGuard, type CloseLive, type LiveGuardOptions, type LiveSubscriber } from "./live-guard";
export { encodeLiveEvent, LIVE_CHANNEL, parseLiveEvent, type LiveEvent, type SignedInEvent } from "./live";
export { createVerifier, type RevocationReader, type Verifier, type VerifierOptions } from "./verifier";
export * from "./token-shape";
export * from "./token-checks";
