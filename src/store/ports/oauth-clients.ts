/**
 * The relying parties registered with this API as an OAuth provider (src/auth/oauth): directory
 * state, administered by ADMIN (createOAuthClient and friends). A confidential client's secret is
 * never stored, only its SHA-256 (the secret is 256 random bits, so a fast hash is enough).
 */

export interface OAuthClientRecord {
  readonly clientId: string;
  readonly name: string;
  /** Exact URLs; oidc-provider compares them character for character. */
  readonly redirectUris: readonly string[];
  /** Of authorization_code, refresh_token, client_credentials. */
  readonly grantTypes: readonly string[];
  /** The scopes the client may ask for. */
  readonly scopes: readonly string[];
  /** A public client (a SPA, a mobile app, a CLI) has no secret and must use PKCE with S256. */
  readonly public: boolean;
  readonly backchannelLogoutUri: string | null;
  /** Sign-ins for this client need a second factor (aal2). */
  readonly requireMfa: boolean;
  /** base64url SHA-256 of the secret; null for a public client. */
  readonly secretHash: string | null;
  /** Epoch ms. */
  readonly createdAt: number;
}

export interface OAuthClientPage {
  readonly clients: readonly OAuthClientRecord[];
  /** Where the next page starts (the last client's id), or null when this is the last page. */
  readonly endCursor: string | null;
}

export interface OAuthClientStore {
  /** False when the id is taken (never, with random ids, but checked). */
  createOAuthClient(client: OAuthClientRecord): Promise<boolean>;
  getOAuthClient(clientId: string): Promise<OAuthClientRecord | null>;
  /** Ordered by client id, starting after `after`. */
  listOAuthClients(first: number, after: string | null): Promise<OAuthClientPage>;
  /** Replaces the record; null when there is no such client. */
  updateOAuthClient(client: OAuthClientRecord): Promise<OAuthClientRecord | null>;
  /** False when there was no such client. */
  deleteOAuthClient(clientId: string): Promise<boolean>;
}
