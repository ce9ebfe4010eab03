/**
 * What oidc-provider keeps between requests (its "models": Session, Interaction, AuthorizationCode,
 * AccessToken, RefreshToken, ClientCredentials, Grant, …), stored as it hands them over. Hot state:
 * every record expires (`expiresInSeconds`), and stays in Redis whatever holds the directory.
 * src/auth/oauth/adapter.ts turns this port into oidc-provider's Adapter interface.
 */

/** A record as oidc-provider wrote it; `consumed` (epoch seconds) once consumeOAuthModel ran. */
export type OAuthModelPayload = Readonly<Record<string, unknown>>;

/** A grant, as the user's list of authorized apps shows it. */
export interface OAuthGrantSummary {
  readonly grantId: string;
  readonly accountId: string;
  readonly clientId: string;
  /** The scopes granted, space-separated (OpenID scopes and the API's). */
  readonly scope: string;
  /** Epoch seconds. */
  readonly grantedAt: number;
}

/** One record a grant held, as oauthGrantRecords read it or revokeOAuthGrant deleted it. */
export interface OAuthGrantRecord {
  readonly model: string;
  readonly id: string;
  readonly payload: OAuthModelPayload;
}

export interface OAuthModelStore {
  /**
   * Writes the record, replacing any under that id, for `expiresInSeconds` (undefined: oidc-provider
   * gave none; kept for a day). A record with `grantId` is listed under its grant (revokeOAuthGrant),
   * a Grant under its account and client, a Session under its `uid`, a record with `userCode` under that.
   */
  saveOAuthModel(model: string, id: string, payload: OAuthModelPayload, expiresInSeconds: number | undefined): Promise<void>;
  findOAuthModel(model: string, id: string): Promise<OAuthModelPayload | undefined>;
  findOAuthModelByUid(model: string, uid: string): Promise<OAuthModelPayload | undefined>;
  findOAuthModelByUserCode(model: string, userCode: string): Promise<OAuthModelPayload | undefined>;
  /**
   * Marks the record consumed, in one step; oidc-provider then refuses it (a replayed code or refresh
   * token). False when it was consumed already (or is gone): two redemptions racing, of which only
   * the first may win.
   */
  consumeOAuthModel(model: string, id: string, atSeconds: number): Promise<boolean>;
  destroyOAuthModel(model: string, id: string): Promise<void>;
  /**
   * The live records issued under the grant (codes, refresh tokens, the records of issued access
   * tokens), read and left in place: OAuthGrants marks a grant's access tokens revoked before it
   * removes the grant, so no moment between the two steps lets one pass a verifier.
   */
  oauthGrantRecords(grantId: string): Promise<OAuthGrantRecord[]>;
  /**
   * Deletes the Grant and every record issued under it (codes, refresh tokens, the records of
   * issued access tokens); returns those records, so the access tokens can join the revocation state.
   */
  revokeOAuthGrant(grantId: string): Promise<OAuthGrantRecord[]>;
  /** The live grants of a user, at most `limit`. */
  oauthGrantsOfAccount(accountId: string, limit: number): Promise<OAuthGrantSummary[]>;
  /** The ids of a client's live grants, at most `limit`. */
  oauthGrantIdsOfClient(clientId: string, limit: number): Promise<string[]>;
}
