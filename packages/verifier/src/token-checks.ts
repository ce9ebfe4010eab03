import { hash, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import type { Aal } from "./assurance";
import type { Role } from "./outcomes";
import { hasCriticalExtensions, isAal, isAmr, isId, isNumber, isRoleList, KidReader, LIFETIME_LEEWAY_SECONDS, MAX_TOKEN_LENGTH } from "./token-shape";

/**
 * The checks a presented token goes through, in order, at the auth API and in every verifier: one
 * implementation, so the two refuse exactly the same tokens. Only the key lookup differs (the auth
 * API holds its keys, a verifier may have to fetch them), so it sits between the two steps here.
 */

/** Why a token is refused; each side maps it to its own error, with the same code and reason. */
export type TokenFault = "malformed" | "expired" | "wrongType";

/** A key that verifies a token, pinned to one algorithm: the token's own `alg` header is never read. */
export interface TokenKey {
  readonly algorithm: jwt.Algorithm;
  readonly key: KeyObject;
}

export interface TokenChecksOptions {
  /** Several: the auth API's JWT_ISSUER and, with its OAuth provider on, OAUTH_ISSUER (whose access tokens are alike). */
  readonly issuer: string | readonly string[];
  readonly audience: string;
  /** Epoch ms. */
  readonly now: () => number;
}

/** What an access token claims, once checked. */
export interface AccessTokenClaims {
  readonly sub: string;
  readonly sid: string;
  readonly jti: string;
  readonly roles: readonly Role[];
  /** `email_verified`; absent on tokens issued before the claim existed: false. */
  readonly emailVerified: boolean;
  /** Epoch seconds. */
  readonly iat: number;
  readonly exp: number;
  readonly aal: Aal;
  readonly amr: readonly string[];
  /** `cnf.jkt` (RFC 9449): the thumbprint of the key a DPoP-bound token is bound to; undefined for a bearer token. */
  readonly jkt: string | undefined;
  /**
   * `scope`, space-separated: on an access token the auth API's OAuth provider issued to another app;
   * undefined on the auth API's own, which may do all its user may.
   */
  readonly scope: string | undefined;
  /** `client_id` (RFC 9068): the app the token was issued to; the auth API's own name it by JWT_CLIENT_ID or its issuer. */
  readonly clientId: string | undefined;
}

/** What a refresh token claims, once checked. */
export interface RefreshTokenClaims {
  readonly sub: string;
  readonly sid: string;
  readonly jti: string;
  /** Epoch seconds. */
  readonly exp: number;
  /** `cnf.jkt`: the refresh token of a DPoP-bound session is bound to the same key. */
  readonly jkt: string | undefined;
}

/** `cnf` of a token: undefined when absent (a bearer token), null when it is there but not `{ jkt: <thumbprint> }`. */
function boundKeyOf(cnf: unknown): string | undefined | null {
  if (cnf === undefined) return undefined;
  const jkt = typeof cnf === "object" && cnf !== null ? (cnf as { jkt?: unknown }).jkt : undefined;
  return isId(jkt) ? jkt : null;
}

/**
 * How many verified tokens TokenChecks remembers (about 400 bytes each). A relying party presents
 * the same access token on every request until it expires, and the token's bytes decide the
 * signature's outcome for a given key: Envoy's jwt_authn keeps such a cache too (jwt_cache_config).
 */
export const VERIFIED_TOKENS_KEPT = 10_000;

/** A token that passed step 2, and what it passed with. */
interface Verified {
  readonly type: string;
  /** The very key object it verified with: a key set that changed (rotation, a JWKS refresh) gives a new one. */
  readonly key: KeyObject;
  readonly payload: jwt.JwtPayload;
  /** Epoch seconds. */
  readonly exp: number;
}

export class TokenChecks {
  private readonly kids = new KidReader();
  /** By SHA-256 of the whole token: no raw token is kept, and a hit means these exact bytes. */
  private readonly verified = new Map<string, Verified>();

  constructor(private readonly options: TokenChecksOptions) {}

  /**
   * Step 1, before any key is looked up: the kid that names the key, or undefined when the header
   * has none; null for a token longer than MAX_TOKEN_LENGTH, refused before anything is parsed.
   */
  kidOf(token: string): string | undefined | null {
    return token.length > MAX_TOKEN_LENGTH ? null : this.kids.read(token);
  }

  /**
   * Step 2, with the key the kid named (undefined: none, refused): the signature, pinned to the
   * key's algorithm, `iss`, `aud` and `exp`, then no `crit` header and the expected `typ`.
   */
  verify(token: string, kid: string | undefined, key: TokenKey | undefined, type: string): jwt.JwtPayload | TokenFault {
    if (key === undefined) return "malformed";
    // A token these checks passed before, with this very key: only `exp` can have changed since
    // (iat, nbf, iss, aud, typ and the signature are fixed by its bytes), so only that is checked again.
    const digest = hash("sha256", token, "base64url");
    const known = this.verified.get(digest);
    if (known !== undefined && known.key === key.key && known.type === type) {
      if (Math.floor(this.options.now() / 1000) < known.exp) return known.payload;
      this.verified.delete(digest);
      return "expired";
    }
    const payload = this.check(token, kid, key, type);
    if (typeof payload === "object" && typeof payload.exp === "number") this.remember(digest, { type, key: key.key, payload: Object.freeze(payload), exp: payload.exp });
    return payload;
  }

  private remember(digest: string, verified: Verified): void {
    // The oldest goes first: a Map iterates in insertion order.
    if (this.verified.size >= VERIFIED_TOKENS_KEPT) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(digest, verified);
  }

  private check(token: string, kid: string | undefined, key: TokenKey, type: string): jwt.JwtPayload | TokenFault {
    let decoded: jwt.Jwt;
    try {
      decoded = jwt.verify(token, key.key, {
        algorithms: [key.algorithm],
        issuer: this.options.issuer as string | [string, ...string[]],
        audience: this.options.audience,
        clockTimestamp: Math.floor(this.options.now() / 1000),
        complete: true,
      });
    } catch (error) {
      return error instanceof jwt.TokenExpiredError ? "expired" : "malformed";
    }
    this.kids.remember(token, kid);
    if (hasCriticalExtensions(decoded.header)) return "malformed";
    if (decoded.header.typ !== type || typeof decoded.payload !== "object") return "wrongType";
    return decoded.payload;
  }
}

/**
 * Step 3 for an access token: the claims, and a lifetime (exp - iat) of at most `maxLifetimeSeconds`
 * plus a minute's slack: a longer-lived token was not issued under that ACCESS_TOKEN_TTL. Null: malformed.
 */
export function accessClaimsOf(payload: jwt.JwtPayload, maxLifetimeSeconds: number): AccessTokenClaims | null {
  const { sub, sid, jti, roles, exp, iat, aal, amr } = payload;
  if (!isId(sub) || !isId(sid) || !isId(jti) || !isNumber(exp) || !isNumber(iat)) return null;
  if (!isRoleList(roles) || !isAal(aal) || !isAmr(amr)) return null;
  const emailVerified = payload.email_verified ?? false;
  if (typeof emailVerified !== "boolean") return null;
  if (exp - iat > maxLifetimeSeconds + LIFETIME_LEEWAY_SECONDS) return null;
  const jkt = boundKeyOf(payload.cnf);
  if (jkt === null) return null;
  const scope: unknown = payload.scope;
  if (scope !== undefined && typeof scope !== "string") return null;
  const clientId: unknown = payload.client_id;
  // Built field by field: V8 copies `{ ...object, more }` on a slow path (5 µs here, per request).
  return { sub, sid, jti, roles, emailVerified, iat, exp, aal, amr, jkt, scope, clientId: typeof clientId === "string" ? clientId : undefined };
}

/** Step 3 for a refresh token (the auth API's only): its session, its id and its expiry. Null: malformed. */
export function refreshClaimsOf(payload: jwt.JwtPayload): RefreshTokenClaims | null {
  const { sub, sid, jti, exp } = payload;
  if (!isId(sub) || !isId(sid) || !isId(jti) || !isNumber(exp)) return null;
  const jkt = boundKeyOf(payload.cnf);
  if (jkt === null) return null;
  return { sub, sid, jti, exp, jkt };
}
