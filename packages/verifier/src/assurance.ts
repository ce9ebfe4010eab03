/**
 * How strongly a session's user was authenticated, carried in every access token as `aal` and
 * `amr` and kept on the session record, so a refresh hands out the level the session has and no more.
 *
 * `aal` follows NIST SP 800-63B's authenticator assurance levels; `amr` holds RFC 8176 method names.
 */
export const AALS = ["aal1", "aal2"] as const;
export type Aal = (typeof AALS)[number];

/** RFC 8176 §2 names this API issues: password, one-time password, hardware-bound and software key. */
export type AuthMethod = "pwd" | "otp" | "hwk" | "swk" | "user" | "mfa";

export interface Assurance {
  readonly aal: Aal;
  /** RFC 8176 method names, in the order they were used; never empty. */
  readonly amr: readonly string[];
}

/** The most methods a token may list; the API never issues more than a handful. */
const MAX_AMR = 8;
const AMR_VALUE = /^[a-z]{2,16}$/;

export const isAal = (value: unknown): value is Aal => (AALS as readonly unknown[]).includes(value);

export const isAmr = (value: unknown): value is string[] =>
  Array.isArray(value) && value.length > 0 && value.length <= MAX_AMR && value.every((method) => typeof method === "string" && AMR_VALUE.test(method));

/** True when `actual` is at least `required`. */
export const meetsAal = (actual: Aal, required: Aal): boolean => AALS.indexOf(actual) >= AALS.indexOf(required);

/**
 * The rule every service applies: a user who has turned a second factor on (`mfaEnabled` in the
 * user record, read in the revocation round trip) is refused at aal1, whatever the operation,
 * except where the auth API itself lets an aal1 session finish signing in.
 */
export const needsSecondFactor = (user: { readonly mfaEnabled?: boolean } | null, aal: Aal): boolean =>
  user?.mfaEnabled === true && !meetsAal(aal, "aal2");
