import { randomBytes } from "node:crypto";
import {
  ACCESS_TOKEN_TYPE,
  accessClaimsOf,
  MESSAGES,
  REFRESH_TOKEN_TYPE,
  refreshClaimsOf,
  TokenChecks,
  type AccessTokenClaims,
  type RefreshTokenClaims,
} from "@revocable-auth/verifier/internal";
import jwt from "jsonwebtoken";
import type { Clock } from "../../clock";
import { invalidToken, unauthenticated } from "../../errors";
import type { Role } from "../../store/store";
import type { Assurance } from "./assurance";
import type { KeySet, SigningKey } from "./signing-keys";

export interface TokenSettings {
  /** Built once at start; names the signing key and finds a presented token's key by its kid. */
  readonly keys: KeySet;
  readonly issuer: string;
  /** OAUTH_ISSUER, with the OAuth provider on: its access tokens for this API (aud JWT_AUDIENCE) verify here too. */
  readonly oauthIssuer?: string | null;
  readonly audience: string;
  /** RFC 9068's `client_id` claim of access tokens (JWT_CLIENT_ID); the issuer when not given. */
  readonly clientId?: string;
  /** Seconds. */
  readonly accessTokenTtl: number;
  /** Seconds. */
  readonly refreshTokenTtl: number;
}

/**
 * The claims of a verified access token, checked as every verifier checks them (one implementation,
 * in the verifier package): `emailVerified` is `email_verified` (OpenID Connect's name); `aal` and
 * `amr` are the session's assurance when the token was issued (assurance.ts).
 */
export type AccessClaims = AccessTokenClaims;

export type RefreshClaims = RefreshTokenClaims;

export interface IssuedToken {
  readonly token: string;
  readonly jti: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

/** What makes a refresh token: signing the same stamp for the same session gives the same token. */
export interface RefreshStamp {
  readonly jti: string;
  /** Epoch milliseconds, whole seconds. */
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** RFC 9449 §6.1's confirmation claim of a DPoP-bound token; nothing for a bearer token. */
const confirmation = (jkt: string | undefined) => (jkt === undefined ? {} : { cnf: { jkt } });

/** A random id with 128 bits of entropy. */
export const randomId = () => randomBytes(16).toString("base64url");

/**
 * Signs and verifies both kinds of token. Keys are KeyObjects built once (signing-keys.ts):
 * jsonwebtoken verifies about fifty times faster with a KeyObject than with a string secret,
 * which it first tries to parse as a public key. The token's `kid` picks the key, and the key,
 * never the token's own `alg` header, pins the algorithm.
 */
export class Tokens {
  private readonly checks: TokenChecks;

  constructor(
    private readonly settings: TokenSettings,
    private readonly clock: Clock,
  ) {
    const issuer = settings.oauthIssuer ? [settings.issuer, settings.oauthIssuer] : settings.issuer;
    this.checks = new TokenChecks({ issuer, audience: settings.audience, now: () => clock.now() });
  }

  /**
   * `assurance`: the session's, as its record holds it; every access token carries it as `aal` and
   * `amr`. `emailVerified`: the user record's, as `email_verified`. `jkt`: the session's DPoP key,
   * as `cnf.jkt` (RFC 9449): the token is then useless without a proof from that key.
   */
  issueAccess(userId: string, sessionId: string, roles: readonly Role[], assurance: Assurance, emailVerified = false, jkt?: string): IssuedToken {
    const claims = { sub: userId, sid: sessionId, client_id: this.settings.clientId ?? this.settings.issuer, roles, aal: assurance.aal, amr: assurance.amr, email_verified: emailVerified, ...confirmation(jkt) };
    return this.sign(this.settings.keys.accessSigner, ACCESS_TOKEN_TYPE, claims, this.settings.accessTokenTtl);
  }

  issueRefresh(userId: string, sessionId: string, jkt?: string): IssuedToken {
    return this.signRefresh(userId, sessionId, this.nextRefreshStamp(), jkt);
  }

  /** A fresh jti and times for the next refresh token, from this instance's clock. */
  nextRefreshStamp(): RefreshStamp {
    const iat = Math.floor(this.clock.now() / 1000);
    return { jti: randomId(), issuedAt: iat * 1000, expiresAt: (iat + this.settings.refreshTokenTtl) * 1000 };
  }

  /**
   * Deterministic: the same stamp gives the same bytes, because the header and claims are built
   * in a fixed order and refresh tokens are always signed with HMAC (see signing-keys.ts), whose
   * signatures are deterministic. That is what lets every instance hand out the identical token
   * again inside the refresh grace window.
   */
  signRefresh(userId: string, sessionId: string, stamp: RefreshStamp, jkt?: string): IssuedToken {
    const iat = Math.floor(stamp.issuedAt / 1000);
    const exp = Math.floor(stamp.expiresAt / 1000);
    return this.signClaims(this.settings.keys.refreshSigner, REFRESH_TOKEN_TYPE, { sub: userId, sid: sessionId, jti: stamp.jti, iat, exp, ...confirmation(jkt) });
  }

  verifyAccess(token: string): AccessClaims {
    // We never issue a longer-lived one: a token that claims more was not made by this config.
    const claims = accessClaimsOf(this.verify(token, ACCESS_TOKEN_TYPE), this.settings.accessTokenTtl);
    if (claims === null) throw invalidToken();
    return claims;
  }

  verifyRefresh(token: string): RefreshClaims {
    const claims = refreshClaimsOf(this.verify(token, REFRESH_TOKEN_TYPE));
    if (claims === null) throw invalidToken();
    return claims;
  }

  private sign(signer: SigningKey, type: string, claims: object, ttlSeconds: number): IssuedToken {
    const iat = Math.floor(this.clock.now() / 1000);
    return this.signClaims(signer, type, { ...claims, jti: randomId(), iat, exp: iat + ttlSeconds });
  }

  private signClaims(signer: SigningKey, type: string, claims: Record<string, unknown> & { jti: string; exp: number }): IssuedToken {
    const payload = { ...claims, iss: this.settings.issuer, aud: this.settings.audience };
    const header = { alg: signer.algorithm, typ: type, kid: signer.kid };
    const token = jwt.sign(payload, signer.key, { algorithm: signer.algorithm, header });
    return { token, jti: claims.jti, expiresAt: claims.exp * 1000 };
  }

  /** The checks every verifier makes too (token-checks.ts in the verifier package), with this instance's keys. */
  private verify(token: string, type: string): jwt.JwtPayload {
    const malformed = `The ${type === ACCESS_TOKEN_TYPE ? "access" : "refresh"} token is malformed or its signature is invalid`;
    const kid = this.checks.kidOf(token);
    if (kid === null) throw invalidToken(malformed);
    const key = type === ACCESS_TOKEN_TYPE ? this.settings.keys.accessKey(kid) : this.settings.keys.refreshKey(kid);
    const payload = this.checks.verify(token, kid, key, type);
    if (payload === "malformed") throw invalidToken(malformed);
    if (payload === "expired") throw unauthenticated("TOKEN_EXPIRED", MESSAGES.expired);
    if (payload === "wrongType") throw invalidToken(MESSAGES.wrongType(type));
    return payload;
  }
}
