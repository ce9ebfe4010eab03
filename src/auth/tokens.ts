import { createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import type { Clock } from "../clock";
import type { Algorithm } from "../config";
import { invalidToken, unauthenticated } from "../errors";
import { ROLES, type Role } from "../store/store";

/** RFC 9068's media type for access tokens; refresh tokens get their own so neither passes as the other. */
export const ACCESS_TOKEN_TYPE = "at+jwt";
export const REFRESH_TOKEN_TYPE = "rt+jwt";

/** No token we issue comes near this; longer input is refused before any parsing. */
const MAX_TOKEN_LENGTH = 4096;
/** Slack, in seconds, on a presented access token's lifetime (exp - iat) over ACCESS_TOKEN_TTL. */
const LIFETIME_LEEWAY_SECONDS = 60;

export interface TokenSettings {
  readonly secret: string;
  readonly algorithm: Algorithm;
  readonly issuer: string;
  readonly audience: string;
  /** Seconds. */
  readonly accessTokenTtl: number;
  /** Seconds. */
  readonly refreshTokenTtl: number;
}

export interface AccessClaims {
  readonly sub: string;
  readonly sid: string;
  readonly jti: string;
  readonly roles: readonly Role[];
  /** Epoch seconds. */
  readonly iat: number;
  readonly exp: number;
}

export interface RefreshClaims {
  readonly sub: string;
  readonly sid: string;
  readonly jti: string;
  readonly exp: number;
}

export interface IssuedToken {
  readonly token: string;
  readonly jti: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

/** A random id with 128 bits of entropy. */
export const randomId = () => randomBytes(16).toString("base64url");

/**
 * Signs and verifies both kinds of token. The key is built once: jsonwebtoken verifies about
 * fifty times faster with a KeyObject than with a string secret, which it first tries to parse as
 * a public key. The algorithm is pinned; the token's own `alg` header is never trusted.
 */
export class Tokens {
  private readonly key: KeyObject;

  constructor(
    private readonly settings: TokenSettings,
    private readonly clock: Clock,
  ) {
    this.key = createSecretKey(Buffer.from(settings.secret, "utf8"));
  }

  issueAccess(userId: string, sessionId: string, roles: readonly Role[]): IssuedToken {
    return this.sign(ACCESS_TOKEN_TYPE, { sub: userId, sid: sessionId, roles }, this.settings.accessTokenTtl);
  }

  issueRefresh(userId: string, sessionId: string): IssuedToken {
    return this.sign(REFRESH_TOKEN_TYPE, { sub: userId, sid: sessionId }, this.settings.refreshTokenTtl);
  }

  verifyAccess(token: string): AccessClaims {
    const payload = this.verify(token, ACCESS_TOKEN_TYPE);
    const roles = payload.roles;
    if (!Array.isArray(roles) || !roles.every((role) => (ROLES as readonly unknown[]).includes(role))) {
      throw invalidToken();
    }
    const claims = { ...requireIdentity(payload), roles: roles as Role[], iat: requireNumber(payload.iat) };
    // We never issue a longer-lived one: a token that claims more was not made by this config.
    if (claims.exp - claims.iat > this.settings.accessTokenTtl + LIFETIME_LEEWAY_SECONDS) throw invalidToken();
    return claims;
  }

  verifyRefresh(token: string): RefreshClaims {
    return requireIdentity(this.verify(token, REFRESH_TOKEN_TYPE));
  }

  private sign(type: string, claims: object, ttlSeconds: number): IssuedToken {
    const iat = Math.floor(this.clock.now() / 1000);
    const exp = iat + ttlSeconds;
    const jti = randomId();
    const payload = { ...claims, jti, iat, exp, iss: this.settings.issuer, aud: this.settings.audience };
    const token = jwt.sign(payload, this.key, { algorithm: this.settings.algorithm, header: { alg: this.settings.algorithm, typ: type } });
    return { token, jti, expiresAt: exp * 1000 };
  }

  private verify(token: string, type: string): jwt.JwtPayload {
    const malformed = `The ${type === ACCESS_TOKEN_TYPE ? "access" : "refresh"} token is malformed or its signature is invalid`;
    if (token.length > MAX_TOKEN_LENGTH) throw invalidToken(malformed);
    let decoded: jwt.Jwt;
    try {
      decoded = jwt.verify(token, this.key, {
        algorithms: [this.settings.algorithm],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTimestamp: Math.floor(this.clock.now() / 1000),
        complete: true,
      });
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) throw unauthenticated("TOKEN_EXPIRED", "The token has expired");
      throw invalidToken(malformed);
    }
    // RFC 7515 §4.1.11: extensions we do not understand, marked critical, must be refused.
    if ("crit" in decoded.header) throw invalidToken(malformed);
    if (decoded.header.typ !== type || typeof decoded.payload !== "object") {
      throw invalidToken(`Expected a token of type ${type}`);
    }
    return decoded.payload;
  }
}

function requireIdentity(payload: jwt.JwtPayload): { sub: string; sid: string; jti: string; exp: number } {
  const { sub, sid, jti } = payload;
  if (!isId(sub) || !isId(sid) || !isId(jti)) throw invalidToken();
  return { sub, sid, jti, exp: requireNumber(payload.exp) };
}

function isId(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= 128;
}

function requireNumber(value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw invalidToken();
  return value;
}
