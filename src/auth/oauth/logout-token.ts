import { randomUUID } from "node:crypto";
import { jose } from "../federation/openid";
import type { PrivateJwk } from "../tokens/signing-keys";

/** OpenID Connect Back-Channel Logout 1.0 §2.4: the event a logout token carries. */
export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** §2.4 advises a short lifetime: two minutes, and each delivery attempt signs a fresh one. */
export const LOGOUT_TOKEN_TTL_SECONDS = 120;

export interface LogoutTokenSettings {
  /** The OAuth issuer (OAUTH_ISSUER): the `iss` of every token this provider signs. */
  readonly issuer: string;
  readonly algorithm: "ES256" | "RS256";
  /** The key set's signing key: the one the ID tokens are signed with, published in the JWKS. */
  readonly key: PrivateJwk;
}

/**
 * Signs logout tokens (§2.4) with the key set: `typ: logout+jwt`, `aud` the one client it is for,
 * `sub` and `sid` (the session of this API, the `sid` of the client's access tokens), a fresh `jti`,
 * the back-channel logout event, and never a `nonce` (§2.4: its presence makes it not a logout token).
 */
export class LogoutTokens {
  private readonly key: ReturnType<typeof jose.importJWK>;

  constructor(private readonly settings: LogoutTokenSettings) {
    this.key = jose.importJWK(settings.key as Parameters<typeof jose.importJWK>[0], settings.algorithm);
  }

  async sign(clientId: string, userId: string, sessionId: string, nowMs: number): Promise<string> {
    const iat = Math.floor(nowMs / 1000);
    return new jose.SignJWT({ sid: sessionId, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })
      .setProtectedHeader({ alg: this.settings.algorithm, kid: this.settings.key.kid, typ: "logout+jwt" })
      .setIssuer(this.settings.issuer)
      .setAudience(clientId)
      .setSubject(userId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + LOGOUT_TOKEN_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(await this.key);
  }
}
