import type { Logger } from "pino";
import type { Identity as VerifiedIdentity } from "@revocable-auth/verifier";
import { identityOf, isRevoked, type DpopTarget } from "@revocable-auth/verifier/internal";
import { AuthError, dpopProofRequired, dpopProofReplayed, invalidDpopProof, invalidToken, isAuthError, tokenRevoked } from "../../errors";
import type { AccessState, BoundAccessState, Role, SessionStore, UserRecord } from "../../store/store";
import { API_SCOPE } from "./scopes";
import type { DpopProofs } from "../dpop/proofs";
import type { AccessClaims, Tokens } from "./tokens";

/** REVOCATION_FAILURE_MODE: what a request gets while the store cannot answer (docs/operations.md). */
export type FailureMode = "closed" | "open";

/** The verifier package's Identity, carrying this API's full user record. */
export type Identity = VerifiedIdentity<UserRecord>;

export interface AuthenticatorHooks {
  /** Called each time a token is accepted on its signature alone because the store was down. */
  onFailOpen?(identity: Identity): void;
}

/** An access token as the request presented it: `Authorization: Bearer <token>`, or `DPoP <token>` with a DPoP proof header. */
export interface PresentedToken {
  readonly token: string;
  readonly scheme: "Bearer" | "DPoP";
  /** The DPoP header, when the request had one. */
  readonly proof: string | undefined;
  /** The request the proof must be for (htm, htu); called only when there is a proof. */
  readonly target: () => DpopTarget;
}

/**
 * What an access token the OAuth provider issued to another app may do here (docs/oauth-provider.md#scopes):
 * with the `api` scope, what its user may do, except administration (ADMIN is never delegated);
 * without it, nothing: the token is for the app's own use (its ID token's claims, userinfo).
 */
export function scopedRoles(scope: string, roles: readonly Role[]): Role[] {
  if (!scope.split(" ").includes(API_SCOPE)) throw new AuthError("FORBIDDEN", "INSUFFICIENT_SCOPE", `This access token was issued to another app without the "${API_SCOPE}" scope: it cannot call this API`);
  return roles.filter((role) => role !== "ADMIN");
}

/**
 * The per-request check: verify the JWT locally, then one store round trip for revocation. A
 * DPoP-bound token (`cnf.jkt`) also needs a proof from its key, checked locally, and the proof's
 * jti is recorded in that same round trip (one script), so a replay costs no extra command.
 */
export class Authenticator {
  constructor(
    private readonly tokens: Tokens,
    private readonly store: Pick<SessionStore, "accessState" | "boundAccessState">,
    private readonly failureMode: FailureMode,
    private readonly logger: Logger,
    private readonly hooks: AuthenticatorHooks = {},
    private readonly dpop: DpopProofs | null = null,
  ) {}

  /**
   * `proven`: the token's binding was proved when its connection opened (a socket's connection_init
   * proof), so this is the revocation read again, without a proof of its own.
   */
  async authenticate(presented: PresentedToken, proven = false): Promise<Identity> {
    const claims = this.tokens.verifyAccess(presented.token);
    let state: AccessState | BoundAccessState;
    try {
      state = claims.jkt === undefined || proven ? await this.readBearer(claims, presented) : await this.readBound(claims, presented);
    } catch (error) {
      if (this.failureMode === "open" && isAuthError(error) && error.code === "SERVICE_UNAVAILABLE") {
        return this.acceptFailOpen(identityOf<UserRecord>(claims, claims.roles, claims.emailVerified, null));
      }
      throw error;
    }
    if (isRevoked(state)) throw tokenRevoked();
    if ("proofReplayed" in state && state.proofReplayed) throw dpopProofReplayed();
    // A promotion into DPOP_REQUIRED_FOR_ROLES ends the user's unbound sessions (Sessions.endUnbound);
    // one begun as it happened, or still pending, is refused here: the roles are those of now.
    if (claims.jkt === undefined && this.dpop?.requiresBinding(state.user!.roles)) throw dpopProofRequired();
    return identityOf(claims, claims.scope === undefined ? state.user!.roles : scopedRoles(claims.scope, state.user!.roles), state.user!.emailVerified === true, state.user);
  }

  private readBearer(claims: AccessClaims, presented: PresentedToken): Promise<AccessState> {
    // `DPoP` names a bound token: a bearer one sent so was not issued for that, and is refused as such.
    if (claims.jkt === undefined && presented.scheme === "DPoP") throw invalidToken('This access token is not DPoP-bound: send it as "Authorization: Bearer <token>"');
    return this.store.accessState(claims.sub, claims.sid, claims.jti);
  }

  /** A bound token: as DPoP, with a proof from its key for this request and this token, whose jti the read records. */
  private async readBound(claims: AccessClaims, presented: PresentedToken): Promise<BoundAccessState> {
    if (presented.scheme !== "DPoP" || presented.proof === undefined || this.dpop === null) throw dpopProofRequired();
    const proof = await this.dpop.check(presented.proof, presented.target(), presented.token);
    if (proof.jkt !== claims.jkt) throw invalidDpopProof("jkt");
    return this.store.boundAccessState(claims.sub, claims.sid, claims.jti, proof.jti, this.dpop.replayWindowSeconds);
  }

  private acceptFailOpen(identity: Identity): Identity {
    this.logger.warn({ userId: identity.userId, sessionId: identity.sessionId }, "store unavailable: token accepted on its signature alone (REVOCATION_FAILURE_MODE=open)");
    this.hooks.onFailOpen?.(identity);
    return identity;
  }
}
