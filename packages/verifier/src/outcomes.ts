/**
 * The outcomes of checking a token, with the same codes, reasons, messages and HTTP statuses as
 * the auth API (its docs/api.md error table), so a client cannot tell which service refused it.
 */
export const ROLES = ["USER", "ADMIN"] as const;
export type Role = (typeof ROLES)[number];

/** A user record as the auth API stores it (only what a verifier reads). */
export interface VerifiedUser {
  readonly id: string;
  readonly email: string;
  readonly roles: readonly Role[];
  readonly disabled: boolean;
}

/**
 * Who made the request, as proven by a verified, unrevoked access token. `U` is the user record
 * as the reader stores it: the auth API's own is a fuller VerifiedUser.
 */
export interface Identity<U extends VerifiedUser = VerifiedUser> {
  readonly userId: string;
  readonly sessionId: string;
  readonly jti: string;
  /** The roles read in the revocation round trip, so a changed role counts at once; the token's own only when accepted fail-open. */
  readonly roles: readonly Role[];
  /** Epoch ms when the access token expires. */
  readonly expiresAt: number;
  /** Read in the same round trip as the revocation check; null only when accepted fail-open. */
  readonly user: U | null;
}

export type FailureReason = "INVALID_TOKEN" | "TOKEN_EXPIRED" | "TOKEN_REVOKED" | "STORE_UNAVAILABLE" | "KEYS_UNAVAILABLE";

export interface Failure {
  readonly ok: false;
  readonly code: "UNAUTHENTICATED" | "SERVICE_UNAVAILABLE";
  readonly reason: FailureReason;
  /** Safe to show; the auth API's own wording. */
  readonly message: string;
  /** 401 for UNAUTHENTICATED, 503 for SERVICE_UNAVAILABLE. */
  readonly status: number;
  /** WWW-Authenticate on 401, Retry-After on 503, as the auth API sends them. */
  readonly headers: Readonly<Record<string, string>>;
}

export type Outcome = { readonly ok: true; readonly identity: Identity } | Failure;

const unauthenticated = (reason: FailureReason, message: string): Failure => ({
  ok: false,
  code: "UNAUTHENTICATED",
  reason,
  message,
  status: 401,
  headers: { "www-authenticate": 'Bearer error="invalid_token"' },
});

const unavailable = (reason: FailureReason, message: string): Failure => ({
  ok: false,
  code: "SERVICE_UNAVAILABLE",
  reason,
  message,
  status: 503,
  headers: { "retry-after": "1" },
});

export const failures = {
  malformed: () => unauthenticated("INVALID_TOKEN", "The access token is malformed or its signature is invalid"),
  badHeader: () => unauthenticated("INVALID_TOKEN", 'The Authorization header must be "Bearer <access token>"'),
  notJwt: () => unauthenticated("INVALID_TOKEN", "The bearer token is not a JWT"),
  wrongType: (type: string) => unauthenticated("INVALID_TOKEN", `Expected a token of type ${type}`),
  expired: () => unauthenticated("TOKEN_EXPIRED", "The token has expired"),
  revoked: () => unauthenticated("TOKEN_REVOKED", "The token has been revoked"),
  storeUnavailable: () => unavailable("STORE_UNAVAILABLE", "The session store is unavailable; try again shortly"),
  /** Verifier only: no key set could be fetched from the auth API yet. */
  keysUnavailable: () => unavailable("KEYS_UNAVAILABLE", "The signing keys could not be fetched; try again shortly"),
};
