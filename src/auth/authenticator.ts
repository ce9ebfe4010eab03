import type { Logger } from "pino";
import type { FailureMode } from "../config";
import { isAuthError, tokenRevoked } from "../errors";
import type { Role, Store, UserRecord } from "../store/store";
import { isRevoked } from "@revocable-auth/verifier";
import type { Tokens } from "./tokens";

/** Who made the request, as proven by a verified, unrevoked access token. */
export interface Identity {
  readonly userId: string;
  readonly sessionId: string;
  readonly jti: string;
  readonly roles: readonly Role[];
  /** Epoch ms when the access token expires. */
  readonly expiresAt: number;
  /** Read in the same round trip as the revocation check; null only when accepted fail-open. */
  readonly user: UserRecord | null;
}

export interface AuthenticatorHooks {
  /** Called each time a token is accepted on its signature alone because the store was down. */
  onFailOpen?(identity: Identity): void;
}

/** The per-request check: verify the JWT locally, then one store round trip for revocation. */
export class Authenticator {
  constructor(
    private readonly tokens: Tokens,
    private readonly store: Store,
    private readonly failureMode: FailureMode,
    private readonly logger: Logger,
    private readonly hooks: AuthenticatorHooks = {},
  ) {}

  async authenticate(token: string): Promise<Identity> {
    const claims = this.tokens.verifyAccess(token);
    const identity = {
      userId: claims.sub,
      sessionId: claims.sid,
      jti: claims.jti,
      roles: claims.roles,
      expiresAt: claims.exp * 1000,
    };
    try {
      const state = await this.store.accessState(claims.sub, claims.sid, claims.jti);
      if (isRevoked(state)) throw tokenRevoked();
      return { ...identity, user: state.user };
    } catch (error) {
      if (this.failureMode === "open" && isAuthError(error) && error.code === "SERVICE_UNAVAILABLE") {
        return this.acceptFailOpen({ ...identity, user: null });
      }
      throw error;
    }
  }

  private acceptFailOpen(identity: Identity): Identity {
    this.logger.warn({ userId: identity.userId, sessionId: identity.sessionId }, "store unavailable: token accepted on its signature alone (REVOCATION_FAILURE_MODE=open)");
    this.hooks.onFailOpen?.(identity);
    return identity;
  }
}
