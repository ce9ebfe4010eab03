/**
 * Provider identities linked to users (docs/social.md): directory data. Postgres holds them in
 * `linked_identities` (migrations/001_directory.sql); Redis and memory here.
 */

export interface LinkedIdentity {
  /** `provider:subject`: stable, and unique across the directory. */
  readonly id: string;
  /** The provider's name in OIDC_PROVIDERS. */
  readonly provider: string;
  /** The provider's stable subject (`sub`, or GitHub's numeric user id). */
  readonly subject: string;
  readonly userId: string;
  /** The address the provider gave when linking, for the user's list; never used to sign in. */
  readonly email: string | null;
  /** Epoch ms. */
  readonly linkedAt: number;
}

export const identityId = (provider: string, subject: string) => `${provider}:${subject}`;

export type UnlinkIdentityResult = { readonly status: "unlinked"; readonly sessionIds: readonly string[] } | { readonly status: "missing" | "last_credential" };

export interface IdentityStore {
  /**
   * Links the identity to its user unless the provider subject is linked already (to anyone):
   * "taken" then, and nothing changes. The claim on the subject is made first, so two links race safely.
   */
  linkIdentity(identity: LinkedIdentity): Promise<"linked" | "taken">;
  /** Who a provider subject signs in as; null when nobody. */
  findIdentity(provider: string, subject: string): Promise<LinkedIdentity | null>;
  /** The user's identities, oldest link first. */
  listIdentities(userId: string): Promise<LinkedIdentity[]>;
  /**
   * Removes one of the user's identities, unless it is their last way to sign in (no password, no
   * passkey, no other identity): "last_credential" then. The check and the removal are one atomic
   * step, serialised with removePasskey's, so two removals at once never leave the account locked out.
   * "missing" when the user holds no such identity. The sessions the identity started (their
   * `federation` names its provider and subject) end in the same step, as removePasskey's do: an
   * unlinked provider account keeps nothing of the user's open. Returns their ids.
   */
  unlinkIdentity(userId: string, id: string): Promise<UnlinkIdentityResult>;
}
