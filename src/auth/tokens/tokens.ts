import { randomBytes } from "node:crypto";
import {
  ACCESS_TOKEN_TYPE,
  hasCriticalExtensions,
  isAal,
  isAmr,
  isId,
  isNumber,
  isRoleList,
  KidReader,
  LIFETIME_LEEWAY_SECONDS,
  MAX_TOKEN_LENGTH,
  MESSAGES,
  REFRESH_TOKEN_TYPE,
} from "@revocable-auth/verifier";
import jwt from "jsonwebtoken";
import type { Clock } from "../../clock";
import { invalidToken, unauthenticated } from "../../errors";
import type { Role } from "../../store/store";
import type { Aal, Assurance } from "./assurance";
import type { KeySet, SigningKey } from "./signing-keys";

export interface TokenSettings {
  /** Built once at start; names the signing key and finds a presented token's key by its kid. */
  readonly keys: KeySet;
  readonly issuer: string;
  readonly audience: string;
  /** RFC 9068's `client_id` claim of access tokens (JWT_CLIENT_ID); the issuer when not given. */
  readonly clientId?: string;
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
  /** `email_verified` (OpenID Connect's name): the address was proven when the token was issued. */
  readonly emailVerified: boolean;
  /** Epoch seconds. */
  readonly iat: number;
  readonly exp: number;
  /** The session's assurance when the token was issued (assurance.ts). */
  readonly aal: Aal;
  readonly amr: readonly string[];
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

/** What makes a refresh token: signing the same stamp for the same session gives the same token. */
export interface RefreshStamp {
  readonly jti: string;
  /** Epoch milliseconds, whole seconds. */
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** A random id with 128 bits of entropy. */
export const randomId = () => randomBytes(16).toString("base64url");

/**
 * Signs and verifies both kinds of token. Keys are KeyObjects built once (signing-keys.ts):
 * jsonwebtoken verifies about fifty times faster with a KeyObject than with a string secret,
 * which it first tries to parse as a public key. The token's `kid` picks the key, and the key,
 * never the token's own `alg` header, pins the algorithm.
 */
export class Tokens {
  private readonly kids = new KidReader();

  constructor(
    private readonly settings: TokenSettings,
    private readonly clock: Clock,
  ) {}

  /**
   * `assurance`: the session's, as its record holds it; every access token carries it as `aal` and
   * `amr`. `emailVerified`: the user record's, as `email_verified`.
   */
  issueAccess(userId: string, sessionId: string, roles: readonly Role[], assurance: Assurance, emailVerified = false): IssuedToken {
    const claims = { sub: userId, sid: sessionId, client_id: this.settings.clientId ?? this.settings.issuer, roles, aal: assurance.aal, amr: assurance.amr, email_verified: emailVerified };
    return this.sign(this.settings.keys.accessSigner, ACCESS_TOKEN_TYPE, claims, this.settings.accessTokenTtl);
  }

  issueRefresh(userId: string, sessionId: string): IssuedToken {
    return this.signRefresh(userId, sessionId, this.nextRefreshStamp());
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
  signRefresh(userId: string, sessionId: string, stamp: RefreshStamp): IssuedToken {
    const iat = Math.floor(stamp.issuedAt / 1000);
    const exp = Math.floor(stamp.expiresAt / 1000);
    return this.signClaims(this.settings.keys.refreshSigner, REFRESH_TOKEN_TYPE, { sub: userId, sid: sessionId, jti: stamp.jti, iat, exp });
  }

  verifyAccess(token: string): AccessClaims {
    const payload = this.verify(token, ACCESS_TOKEN_TYPE);
    const { roles, aal, amr } = payload;
    if (!isRoleList(roles) || !isAal(aal) || !isAmr(amr)) throw invalidToken();
    const emailVerified = payload.email_verified ?? false;
    if (typeof emailVerified !== "boolean") throw invalidToken();
    const { sub, sid, jti, exp } = requireIdentity(payload);
    const iat = requireNumber(payload.iat);
    // We never issue a longer-lived one: a token that claims more was not made by this config.
    if (exp - iat > this.settings.accessTokenTtl + LIFETIME_LEEWAY_SECONDS) throw invalidToken();
    // Built field by field: V8 copies `{ ...object, more }` on a slow path (5 µs here, per request).
    return { sub, sid, jti, exp, roles, aal, amr, emailVerified, iat };
  }

  verifyRefresh(token: string): RefreshClaims {
    return requireIdentity(this.verify(token, REFRESH_TOKEN_TYPE));
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

  private verify(token: string, type: string): jwt.JwtPayload {
    const malformed = `The ${type === ACCESS_TOKEN_TYPE ? "access" : "refresh"} token is malformed or its signature is invalid`;
    if (token.length > MAX_TOKEN_LENGTH) throw invalidToken(malformed);
    const kid = this.kids.read(token);
    const key = type === ACCESS_TOKEN_TYPE ? this.settings.keys.accessKey(kid) : this.settings.keys.refreshKey(kid);
    if (key === undefined) throw invalidToken(malformed);
    let decoded: jwt.Jwt;
    try {
      decoded = jwt.verify(token, key.key, {
        algorithms: [key.algorithm],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTimestamp: Math.floor(this.clock.now() / 1000),
        complete: true,
      });
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) throw unauthenticated("TOKEN_EXPIRED", MESSAGES.expired);
      throw invalidToken(malformed);
    }
    this.kids.remember(token, kid);
    if (hasCriticalExtensions(decoded.header)) throw invalidToken(malformed);
    if (decoded.header.typ !== type || typeof decoded.payload !== "object") {
      throw invalidToken(MESSAGES.wrongType(type));
    }
    return decoded.payload;
  }
}

function requireIdentity(payload: jwt.JwtPayload): { sub: string; sid: string; jti: string; exp: number } {
  const { sub, sid, jti } = payload;
  if (!isId(sub) || !isId(sid) || !isId(jti)) throw invalidToken();
  return { sub, sid, jti, exp: requireNumber(payload.exp) };
}

function requireNumber(value: unknown): number {
  if (!isNumber(value)) throw invalidToken();
  return value;
}
