/**
 * The outcomes of checking a token, with the same codes, reasons, messages and HTTP statuses as
 * the auth API (its docs/api.md error table), so a client cannot tell which service refused it.
 */
import type { Aal } from "./assurance";
import { DPOP_CHALLENGE, DPOP_CHECK_MESSAGES, type DpopCheck } from "./dpop";

export const ROLES = ["USER", "ADMIN"] as const;
export type Role = (typeof ROLES)[number];

/** A user record as the auth API stores it (only what a verifier reads). */
export interface VerifiedUser {
  readonly id: string;
  readonly email: string;
  readonly roles: readonly Role[];
  readonly disabled: boolean;
  /** True once the user has a second factor: their aal1 tokens are refused (MFA_REQUIRED). Absent: false. */
  readonly mfaEnabled?: boolean;
  /** Absent on records written before the auth API verified addresses: false. */
  readonly emailVerified?: boolean;
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
  /**
   * Whether the user's address is verified: read with the revocation check, so a verification
   * counts at once; the token's `email_verified` claim only when accepted fail-open.
   */
  readonly emailVerified: boolean;
  /** Epoch ms when the access token expires. */
  readonly expiresAt: number;
  /** Read in the same round trip as the revocation check; null only when accepted fail-open. */
  readonly user: U | null;
  /** The token's `aal` claim: the level its session had when the token was issued. */
  readonly aal: Aal;
  /** The token's `amr` claim: RFC 8176 method names, e.g. ["pwd"] or ["pwd", "otp"]. */
  readonly amr: readonly string[];
  /** The token's `cnf.jkt`: the key a DPoP-bound token is bound to, whose proof came with this request; undefined for a bearer token. */
  readonly jkt?: string | undefined;
  /**
   * The token's `scope`, space-separated, when the auth API's OAuth provider issued it to another app
   * (docs/oauth-provider.md#scopes); undefined for the auth API's own tokens.
   */
  readonly scope?: string | undefined;
}

/** What an Identity takes from a verified access token's claims. */
export interface IdentityClaims {
  readonly sub: string;
  readonly sid: string;
  readonly jti: string;
  /** Epoch seconds. */
  readonly exp: number;
  readonly aal: Aal;
  readonly amr: readonly string[];
  /** `cnf.jkt` of a DPoP-bound token. */
  readonly jkt?: string | undefined;
  readonly scope?: string | undefined;
}

/**
 * The identity a request runs as: roles and email_verified from the user record when the store
 * answered, from the token when it did not (fail-open, user null). One literal with every field,
 * so every identity has one shape: V8 copies `{ ...object, more }` on a slow path, several µs a request.
 */
export function identityOf<U extends VerifiedUser>(claims: IdentityClaims, roles: readonly Role[], emailVerified: boolean, user: U | null): Identity<U> {
  return { userId: claims.sub, sessionId: claims.sid, jti: claims.jti, roles, emailVerified, expiresAt: claims.exp * 1000, aal: claims.aal, amr: claims.amr, jkt: claims.jkt, scope: claims.scope, user };
}

export type FailureReason =
  | "INVALID_TOKEN"
  | "TOKEN_EXPIRED"
  | "TOKEN_REVOKED"
  | "STORE_UNAVAILABLE"
  | "KEYS_UNAVAILABLE"
  | "MFA_REQUIRED"
  | "MFA_ENROLLMENT_REQUIRED"
  | "DPOP_PROOF_REQUIRED"
  | "INVALID_DPOP_PROOF"
  | "DPOP_PROOF_REPLAYED";

export interface Failure {
  readonly ok: false;
  readonly code: "UNAUTHENTICATED" | "FORBIDDEN" | "SERVICE_UNAVAILABLE";
  readonly reason: FailureReason;
  /** Safe to show; the auth API's own wording. */
  readonly message: string;
  /** 401 for UNAUTHENTICATED, 403 for FORBIDDEN, 503 for SERVICE_UNAVAILABLE. */
  readonly status: number;
  /** WWW-Authenticate on 401, Retry-After on 503, as the auth API sends them. */
  readonly headers: Readonly<Record<string, string>>;
  /** INVALID_DPOP_PROOF only: which check of the proof failed. */
  readonly check?: DpopCheck;
}

export type Outcome = { readonly ok: true; readonly identity: Identity } | Failure;

/** The wording of each refusal, shared with the auth API's own errors. */
export const MESSAGES = {
  malformed: "The access token is malformed or its signature is invalid",
  badHeader: 'The Authorization header must be "Bearer <access token>"',
  notJwt: "The bearer token is not a JWT",
  wrongType: (type: string) => `Expected a token of type ${type}`,
  expired: "The token has expired",
  revoked: "The token has been revoked",
  storeUnavailable: "The session store is unavailable; try again shortly",
  authenticationRequired: "You must be logged in",
  missingRole: (required: readonly string[]) => `This operation requires the ${required.join(" or ")} role`,
  mfaRequired: "This session has not verified its second factor: call verifyMfa with a current code first",
  mfaEnrollmentRequired: "This operation requires a second factor: enrol one (enrollTotp, confirmTotp) and sign in with it",
  dpopProofRequired: 'This token is DPoP-bound: send it as "Authorization: DPoP <token>" with a DPoP proof from its key',
  dpopProofReplayed: "This DPoP proof was already used: sign a fresh one (a new jti) for every request",
} as const;

/** WWW-Authenticate on every 401 for a presented token (RFC 6750 §3.1). */
export const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/** Retry-After on a 503 while the store is down: a client retries, and the store reconnects, at least this often. */
export const STORE_RETRY_AFTER = "1";

const unauthenticated = (reason: FailureReason, message: string): Failure => ({
  ok: false,
  code: "UNAUTHENTICATED",
  reason,
  message,
  status: 401,
  headers: { "www-authenticate": INVALID_TOKEN_CHALLENGE },
});

const unavailable = (reason: FailureReason, message: string): Failure => ({
  ok: false,
  code: "SERVICE_UNAVAILABLE",
  reason,
  message,
  status: 503,
  headers: { "retry-after": STORE_RETRY_AFTER },
});

const forbidden = (reason: FailureReason, message: string): Failure => ({
  ok: false,
  code: "FORBIDDEN",
  reason,
  message,
  status: 403,
  headers: {},
});

/** A 401 about a DPoP proof or its absence: RFC 9449's challenge instead of the bearer one. */
const dpopRefused = (reason: FailureReason, message: string, check?: DpopCheck): Failure => ({
  ok: false,
  code: "UNAUTHENTICATED",
  reason,
  message,
  status: 401,
  headers: { "www-authenticate": DPOP_CHALLENGE },
  ...(check === undefined ? {} : { check }),
});

export const failures = {
  malformed: () => unauthenticated("INVALID_TOKEN", MESSAGES.malformed),
  badHeader: () => unauthenticated("INVALID_TOKEN", MESSAGES.badHeader),
  notJwt: () => unauthenticated("INVALID_TOKEN", MESSAGES.notJwt),
  wrongType: (type: string) => unauthenticated("INVALID_TOKEN", MESSAGES.wrongType(type)),
  expired: () => unauthenticated("TOKEN_EXPIRED", MESSAGES.expired),
  revoked: () => unauthenticated("TOKEN_REVOKED", MESSAGES.revoked),
  /** An aal1 token of a user with a second factor, or below what the service requires while the user has one. */
  mfaRequired: () => forbidden("MFA_REQUIRED", MESSAGES.mfaRequired),
  /** Below what the service requires, and the user has no second factor to raise it with. */
  mfaEnrollmentRequired: () => forbidden("MFA_ENROLLMENT_REQUIRED", MESSAGES.mfaEnrollmentRequired),
  storeUnavailable: () => unavailable("STORE_UNAVAILABLE", MESSAGES.storeUnavailable),
  /** A DPoP-bound token sent as a bearer token, or without a proof. */
  dpopProofRequired: () => dpopRefused("DPOP_PROOF_REQUIRED", MESSAGES.dpopProofRequired),
  invalidDpopProof: (check: DpopCheck) => dpopRefused("INVALID_DPOP_PROOF", DPOP_CHECK_MESSAGES[check], check),
  dpopProofReplayed: () => dpopRefused("DPOP_PROOF_REPLAYED", MESSAGES.dpopProofReplayed),
  /** Verifier only: no key set could be fetched from the auth API yet. */
  keysUnavailable: () => unavailable("KEYS_UNAVAILABLE", "The signing keys could not be fetched; try again shortly"),
};
