/**
 * The tokens of mailed links, kept as hashes: hot state (minutes to a day long), in Redis
 * whatever holds the directory. The takes that also change the account are transitions
 * (transitions.ts).
 */

/**
 * What a mailed link's token is for; each user holds at most one live token per purpose.
 * "registration": a registration waiting for its link (REQUIRE_VERIFIED_EMAIL=on), under the user
 * id the account will get; no account exists until the link is used.
 */
export type MailTokenPurpose = "password_reset" | "email_verification" | "email_change" | "email_change_cancel" | "registration";

/** A mailed link's token as stored: only its hash, so no store can leak a working link. */
export interface MailTokenRecord {
  /** SHA-256 of the token's secret, base64url. */
  readonly hash: string;
  /** Epoch ms, by the API's clock. */
  readonly expiresAt: number;
  /** The address it was mailed to: the account's (reset, verification) or the new one (email change). */
  readonly email: string;
  /**
   * Email change: the session that asked for it, which keeps working after the change. The change
   * dies with it: confirming needs this session still live (and the account enabled).
   */
  readonly sessionId?: string;
  /** Registration: the argon2 hash of the password chosen, which the account gets when the link is used. */
  readonly passwordHash?: string;
}

/** Which token a mailed link presents, and when. */
export interface PresentedMailToken {
  readonly userId: string;
  readonly hash: string;
  /** Epoch ms, by the API's clock: the token counts as expired from its expiresAt on. */
  readonly now: number;
}

/** Hot state, in Redis whatever holds the directory (README.md). */
export interface MailTokenStore {
  /** Stores the user's token for `purpose`, replacing (so invalidating) any earlier one. */
  putMailToken(userId: string, purpose: MailTokenPurpose, token: MailTokenRecord): Promise<void>;
  /** True when the user's live token for `purpose` has this hash; reads only. */
  mailTokenMatches(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<boolean>;
  /** The user's token for `purpose` as stored (a hash, never a working link) while live at `now`; reads only. */
  readMailToken(userId: string, purpose: MailTokenPurpose, now: number): Promise<MailTokenRecord | null>;
  /**
   * Consumes the user's token for `purpose` when its hash matches, in one step, and returns it
   * while live; null otherwise. A wrong hash leaves the token in place; a matching expired one is
   * consumed anyway, as the other takes do.
   */
  takeMailToken(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<MailTokenRecord | null>;
}
