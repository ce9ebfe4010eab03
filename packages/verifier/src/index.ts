/**
 * What a service that enforces the auth API's revocation uses: the verifier, its Apollo and
 * type-graphql helpers, the key sources and the guard for live connections. The kernel the auth
 * API shares with it (key layout, revocation rule, token checks, live events) is `./internal`.
 */
export { createVerifier, type DpopRequest, type RevocationReader, type Verifier, type VerifierOptions } from "./verifier";
export { authChecker, authContext, requireAal, toGraphQLError, type AuthContext, type AuthContextOptions } from "./graphql";
export type { DpopCheck, DpopTarget } from "./dpop";
export {
  RemoteKeys,
  StaticKeys,
  type Algorithm,
  type JsonWebKeySet,
  type KeySource,
  type RemoteKeysOptions,
  type VerificationKey,
} from "./key-sources";
export { LiveGuard, type CloseLive, type LiveGuardOptions, type LiveSubscriber } from "./live-guard";
export type { Failure, FailureReason, Identity, Outcome, Role, VerifiedUser } from "./outcomes";
export type { Aal } from "./assurance";
export type { RevocationCause } from "./revocation";
