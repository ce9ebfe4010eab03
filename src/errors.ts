import { DPOP_CHECK_MESSAGES, MESSAGES, type DpopCheck } from "@revocable-auth/verifier/internal";

/**
 * Every failure a client can see is an AuthError: a stable `code` (GraphQL's extensions.code),
 * a `reason` that tells the cases apart, and a message safe to show. Mapping to GraphQL and HTTP
 * happens once, in graphql/errors.ts.
 */
export type ErrorCode =
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "BAD_USER_INPUT"
  | "NOT_FOUND"
  | "TOO_MANY_REQUESTS"
  | "SERVICE_UNAVAILABLE";

export const REASONS = {
  UNAUTHENTICATED: [
    "AUTHENTICATION_REQUIRED",
    "INVALID_TOKEN",
    "TOKEN_EXPIRED",
    "TOKEN_REVOKED",
    "INVALID_CREDENTIALS",
    "REFRESH_TOKEN_REUSED",
    "ACCOUNT_DISABLED",
    "DPOP_PROOF_REQUIRED",
    "INVALID_DPOP_PROOF",
    "DPOP_PROOF_REPLAYED",
  ],
  FORBIDDEN: ["MISSING_ROLE", "MFA_REQUIRED", "MFA_ENROLLMENT_REQUIRED", "MFA_LOCKED", "PASSKEYS_DISABLED", "EMAIL_NOT_VERIFIED", "MAIL_DISABLED", "REAUTHENTICATION_REQUIRED", "EMAIL_CHANGE_TOO_SOON", "INSUFFICIENT_SCOPE"],
  BAD_USER_INPUT: ["INVALID_INPUT", "EMAIL_TAKEN", "LAST_ADMIN", "INVALID_MFA_CODE", "MFA_ALREADY_ENABLED", "MFA_NOT_ENABLED", "TOTP_ENROLMENT_MISSING", "PASSKEY_NOT_VERIFIED", "LAST_SIGN_IN_METHOD", "INVALID_MAIL_TOKEN", "LAST_CREDENTIAL", "REDIRECT_NOT_ALLOWED"],
  NOT_FOUND: ["USER_NOT_FOUND", "SESSION_NOT_FOUND", "PASSKEY_NOT_FOUND", "IDENTITY_NOT_FOUND", "PROVIDER_NOT_FOUND", "OAUTH_CLIENT_NOT_FOUND"],
  TOO_MANY_REQUESTS: ["LOGIN_THROTTLED", "REGISTER_THROTTLED", "MFA_THROTTLED", "PASSKEY_THROTTLED", "RECOVERY_THROTTLED"],
  SERVICE_UNAVAILABLE: ["STORE_UNAVAILABLE", "DIRECTORY_UNAVAILABLE", "SUBSCRIBER_TOO_SLOW"],
} as const satisfies Record<ErrorCode, readonly string[]>;

export type Reason = (typeof REASONS)[ErrorCode][number];
type ReasonOf<C extends ErrorCode> = (typeof REASONS)[C][number];

export class AuthError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: C,
    readonly reason: ReasonOf<C>,
    message: string,
    /** More for the client, beside code and reason (a development hint); never a secret. */
    readonly extensions?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = "AuthError";
  }
}

export const unauthenticated = (reason: ReasonOf<"UNAUTHENTICATED">, message: string) =>
  new AuthError("UNAUTHENTICATED", reason, message);

export const invalidToken = (message: string = MESSAGES.malformed) =>
  unauthenticated("INVALID_TOKEN", message);

/**
 * DPoP (docs/security.md#dpop): a bound token sent without its proof (or as a bearer token), a sign-in
 * without a proof where one is required, a proof that fails a check (`check` names it), a proof used twice.
 * Each answers 401 with RFC 9449's DPoP challenge (graphql/errors.ts).
 */
export const dpopProofRequired = (message: string = MESSAGES.dpopProofRequired) => unauthenticated("DPOP_PROOF_REQUIRED", message);

export const invalidDpopProof = (check: DpopCheck) =>
  new AuthError("UNAUTHENTICATED", "INVALID_DPOP_PROOF", DPOP_CHECK_MESSAGES[check], { check });

/** DPOP_NONCE=on and the proof lacks the current nonce: the client signs again with `nonce` (sent as DPoP-Nonce). */
export const useDpopNonce = (nonce: string) =>
  new AuthError("UNAUTHENTICATED", "INVALID_DPOP_PROOF", DPOP_CHECK_MESSAGES.nonce, { check: "nonce", dpopNonce: nonce });

export const dpopProofReplayed = () => unauthenticated("DPOP_PROOF_REPLAYED", MESSAGES.dpopProofReplayed);

export const authenticationRequired = () => unauthenticated("AUTHENTICATION_REQUIRED", MESSAGES.authenticationRequired);

export const invalidCredentials = () => unauthenticated("INVALID_CREDENTIALS", "Invalid email or password");

export const accountDisabled = () => unauthenticated("ACCOUNT_DISABLED", "This account is disabled");

export const tokenRevoked = () => unauthenticated("TOKEN_REVOKED", MESSAGES.revoked);

export const storeUnavailable = () =>
  new AuthError("SERVICE_UNAVAILABLE", "STORE_UNAVAILABLE", MESSAGES.storeUnavailable);

/**
 * Postgres (DATABASE_URL), which holds the directory, did not answer in time: what reads or changes
 * users and credentials (sign-in, registration, admin changes) waits for it; requests with a valid
 * token do not need it and go on.
 */
export const directoryUnavailable = () =>
  new AuthError("SERVICE_UNAVAILABLE", "DIRECTORY_UNAVAILABLE", "The user directory is unavailable just now. Try again shortly.");

/** The store refuses what the operation needs (a Redis ACL without a rule): the message names the rule to grant. */
export const storeRefused = (message: string) => new AuthError("SERVICE_UNAVAILABLE", "STORE_UNAVAILABLE", message);

/**
 * The store could not confirm the caller's roles, and REVOCATION_FAILURE_MODE=open accepted the token
 * on its signature alone: fine for one request, not for a stream of every user's events that would
 * run on, authorised by roles the token may no longer have.
 */
export const rolesUnconfirmed = () =>
  new AuthError(
    "SERVICE_UNAVAILABLE",
    "STORE_UNAVAILABLE",
    "The store could not confirm your roles just now (the token was accepted on its signature alone), and auditEvents needs them confirmed. Try again shortly.",
  );

/** A live auditEvents subscription fell LIVE_AUDIT_MAX_QUEUED events behind: it ends, and the trail holds the rest. */
export const subscriberTooSlow = () =>
  new AuthError(
    "SERVICE_UNAVAILABLE",
    "SUBSCRIBER_TOO_SLOW",
    "Audit events arrived faster than this subscription read them, so it ended after the last event it delivered. Subscribe again first, then read the gap with the auditEvents query (from: that event's at) and drop the events whose cursor you already have.",
  );

export const badInput = (message: string) => new AuthError("BAD_USER_INPUT", "INVALID_INPUT", message);

export const lastAdmin = (message: string) => new AuthError("BAD_USER_INPUT", "LAST_ADMIN", message);

const THROTTLED_MESSAGES: Record<ReasonOf<"TOO_MANY_REQUESTS">, string> = {
  LOGIN_THROTTLED: "Too many failed logins; try again later",
  REGISTER_THROTTLED: "Too many registrations; try again later",
  MFA_THROTTLED: "Too many wrong codes; try again later",
  PASSKEY_THROTTLED: "Too many failed passkey sign-ins; try again later",
  RECOVERY_THROTTLED: "Too many mails asked for this address or from this client; try again later",
};

/** An aal1 token of a user who has a second factor: only me, logout and verifyMfa are open to it (403). */
export const mfaRequired = () => new AuthError("FORBIDDEN", "MFA_REQUIRED", MESSAGES.mfaRequired);

/** A role in MFA_REQUIRED_FOR_ROLES, used without a second factor at aal2 (403). */
export const mfaEnrollmentRequired = () => new AuthError("FORBIDDEN", "MFA_ENROLLMENT_REQUIRED", MESSAGES.mfaEnrollmentRequired);

/** A mailed link's token that is unknown, used, expired or superseded: one answer for all four. */
export const invalidMailToken = () =>
  new AuthError("BAD_USER_INPUT", "INVALID_MAIL_TOKEN", "This link is invalid, expired or already used; ask for a new one");

/**
 * requestEmailChange while the last confirmed change can still be undone from the previous address:
 * a new request would replace that address's "this was not me" link.
 */
export const emailChangeTooSoon = (until: number) =>
  new AuthError(
    "FORBIDDEN",
    "EMAIL_CHANGE_TOO_SOON",
    `The address changed recently, and the previous one can undo that until ${new Date(until).toISOString()}; ask for another change after that`,
  );

/** REQUIRE_VERIFIED_EMAIL=on and the address is not verified yet: no session starts. */
export const emailNotVerified = () =>
  new AuthError("FORBIDDEN", "EMAIL_NOT_VERIFIED", "Verify your email address first: follow the link we mailed to it, then log in");

/** MAIL_URL=off: the flows that need mail are turned off on this deployment. */
export const mailDisabled = () =>
  new AuthError("FORBIDDEN", "MAIL_DISABLED", "Mail is turned off on this server (MAIL_URL=off): this operation is not available");
/**
 * Adding a credential (a passkey, TOTP, new recovery codes) needs the session to have proved a
 * credential within REAUTH_MAX_AGE_SECONDS: a stolen access token alone cannot add one.
 */
export const reauthenticationRequired = () =>
  new AuthError(
    "FORBIDDEN",
    "REAUTHENTICATION_REQUIRED",
    "This needs a recent sign-in: confirm it is you with reauthenticate (your password, or a code from your authenticator app or a recovery code), then try again",
  );

/** A throttled attempt: the client may try again after `retryAfterSeconds` (the Retry-After header). */
export class ThrottledError extends AuthError<"TOO_MANY_REQUESTS"> {
  constructor(
    reason: ReasonOf<"TOO_MANY_REQUESTS">,
    readonly retryAfterSeconds: number,
    message = THROTTLED_MESSAGES[reason],
  ) {
    super("TOO_MANY_REQUESTS", reason, message);
  }
}

export function isAuthError(error: unknown): error is AuthError {
  return error instanceof AuthError;
}
