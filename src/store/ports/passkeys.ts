/**
 * Passkeys (WebAuthn credentials, directory state) and the challenges handed out with WebAuthn
 * options (hot state, seconds long). Removing a passkey ends the sessions it started: a
 * transition (transitions.ts).
 */

/**
 * A WebAuthn credential of a user (src/auth/passkeys/passkeys.ts). Only public material: the private key
 * never leaves the authenticator.
 */
export interface PasskeyRecord {
  /** The credential id, base64url, as the authenticator made it. */
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  /** The COSE public key, base64url. */
  readonly publicKey: string;
  /** The last signature counter seen; 0 for an authenticator that does not count. */
  readonly counter: number;
  readonly transports: readonly string[];
  /** Backup eligible: a synced ("multi-device") passkey rather than one bound to its hardware. */
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms of the last sign-in with it; null before the first. */
  readonly lastUsedAt: number | null;
}

export type AddPasskeyResult = "added" | "taken" | "user_missing" | "limit";

export type UsePasskeyResult =
  | { readonly status: "used"; readonly passkey: PasskeyRecord }
  /** The counter did not go up although the authenticator counts: a possible clone; nothing changed. */
  | { readonly status: "counter_regressed"; readonly passkey: PasskeyRecord }
  | { readonly status: "missing" };

/** A challenge handed out with WebAuthn options, until its response comes back (or it expires). */
export interface WebAuthnChallenge {
  readonly ceremony: "registration" | "authentication";
  /** The base64url challenge, as the response's clientDataJSON must carry it. */
  readonly challenge: string;
  /** Registration: the signed-in user it was issued to; null for a sign-in. */
  readonly userId: string | null;
}

/** Directory state (README.md). */
export interface PasskeyStore {
  /**
   * Stores a new passkey for its user: claims the credential id on the directory, then adds it to
   * the user's passkeys (at most `max`). "taken" when another user holds that credential id, or
   * this user already does.
   */
  addPasskey(passkey: PasskeyRecord, max: number): Promise<AddPasskeyResult>;
  /** Who holds this credential id, if anyone: the discoverable sign-in's lookup. */
  passkeyOwner(credentialId: string): Promise<string | null>;
  getPasskey(userId: string, credentialId: string): Promise<PasskeyRecord | null>;
  /** Oldest first. */
  listPasskeys(userId: string): Promise<PasskeyRecord[]>;
  /** Null when the user holds no such passkey. */
  renamePasskey(userId: string, credentialId: string, name: string): Promise<PasskeyRecord | null>;
  /**
   * Records a sign-in with the passkey: its new signature counter and last use, in one step that
   * refuses a counter that did not go up (unless both are 0, an authenticator that does not count).
   */
  usePasskey(userId: string, credentialId: string, counter: number): Promise<UsePasskeyResult>;
}

/** Hot state, in Redis whatever holds the directory (README.md). */
export interface WebAuthnChallengeStore {
  /** Keeps a challenge under `id` for `ttlMs`. */
  saveChallenge(id: string, challenge: WebAuthnChallenge, ttlMs: number): Promise<void>;
  /** Returns the challenge and forgets it, in one step: a second take of the same id gets null. */
  takeChallenge(id: string): Promise<WebAuthnChallenge | null>;
}
