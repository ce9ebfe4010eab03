import type { Logger } from "pino";
import type { Identity as VerifiedIdentity } from "@revocable-auth/verifier";
import { identityOf, isRevoked } from "@revocable-auth/verifier/internal";
import { isAuthError, tokenRevoked } from "../../errors";
import type { AccessState, SessionStore, UserRecord } from "../../store/store";
import type { Tokens } from "./tokens";

/** REVOCATION_FAILURE_MODE: what a request gets while the store cannot answer (docs/operations.md). */
export type FailureMode = "closed" | "open";

/** The verifier package's Identity, carrying this API's full user record. */
export type Identity = VerifiedIdentity<UserRecord>;

export interface AuthenticatorHooks {
  /** Called each time a token is accepted on its signature alone because the store was down. */
  onFailOpen?(identity: Identity): void;
}

/** The per-request check: verify the JWT locally, then one store round trip for revocation. */
export class Authenticator {
  constructor(
    private readonly tokens: Tokens,
    private readonly store: Pick<SessionStore, "accessState">,
    private readonly failureMode: FailureMode,
    private readonly logger: Logger,
    private readonly hooks: AuthenticatorHooks = {},
  ) {}

  async authenticate(token: string): Promise<Identity> {
    const claims = this.tokens.verifyAccess(token);
    let state: AccessState;
    try {
      state = await this.store.accessState(claims.sub, claims.sid, claims.jti);
    } catch (error) {
      if (this.failureMode === "open" && isAuthError(error) && error.code === "SERVICE_UNAVAILABLE") {
        return this.acceptFailOpen(identityOf<UserRecord>(claims, claims.roles, claims.emailVerified, null));
      }
      throw error;
    }
    if (isRevoked(state)) throw tokenRevoked();
    return identityOf(claims, state.user!.roles, state.user!.emailVerified === true, state.user);
  }

  private acceptFailOpen(identity: Identity): Identity {
    this.logger.warn({ userId: identity.userId, sessionId: identity.sessionId }, "store unavailable: token accepted on its signature alone (REVOCATION_FAILURE_MODE=open)");
    this.hooks.onFailOpen?.(identity);
    return identity;
  }
}

