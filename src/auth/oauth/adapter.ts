import type { OAuthClientRecord, OAuthClientStore, OAuthModelStore } from "../../store/store";
import type { Adapter, AdapterPayload } from "./oidc";

const ACCESS_TOKEN = "AccessToken";
/**
 * How a JWT access token reaches oidc-provider's introspection and revocation, which refuse JWTs:
 * the route (src/http/oauth.ts) hands it over as this prefix and its jti, once its signature checked.
 */
export const JWT_ACCESS_TOKEN_HANDLE = "jwt~";

/**
 * What the adapter asks of the rest of the provider: the client's metadata in oidc-provider's
 * terms, a JWT access token read back as the record oidc-provider would have stored (it keeps
 * none: see provider.ts), and the hooks on a session's records.
 */
export interface AdapterHooks {
  clientMetadata(client: OAuthClientRecord): AdapterPayload;
  /** A JWT access token this provider issued, by jti, still live in the revocation state; undefined otherwise. */
  accessTokenRecord(jti: string): Promise<AdapterPayload | undefined>;
  /** A refresh token's record while the session here it was issued in is live; undefined once it has ended. */
  liveRefreshToken(payload: AdapterPayload): Promise<AdapterPayload | undefined>;
  /** A JWT access token, by its jti, presented for revocation (RFC 7009): it joins the revocation state. */
  revokeAccessToken(jti: string): Promise<void>;
  /** A code or refresh token presented again while (or after) it was redeemed: its grant ends. */
  replayed(model: string, payload: AdapterPayload | undefined): Promise<void>;
  /** oidc-provider removes a grant (logout, a refresh token revoked, a replay): its access tokens are revoked first (OAuthGrants.remove). */
  revokeGrant(grantId: string): Promise<void>;
  /** oidc-provider wrote a Session (the sign-in's link to this API's session hangs off it). */
  sessionSaved(payload: AdapterPayload, expiresIn: number | undefined): Promise<void>;
  /** oidc-provider destroyed a Session record. */
  sessionDestroyed(payload: AdapterPayload): Promise<void>;
  /** Error to throw for a replay: oidc-provider renders it as invalid_grant. */
  invalidGrant(description: string): Error;
}

/**
 * oidc-provider's Adapter interface over this API's store: one class per model name, as the library
 * builds them (`new Adapter("Session")`). Clients come from the directory (OAuthClientStore), never
 * written through here: dynamic registration is off.
 */
export function adapterClass(store: OAuthModelStore, clients: Pick<OAuthClientStore, "getOAuthClient">, hooks: AdapterHooks): new (model: string) => Adapter {
  return class StoreAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
      if (this.model === "Client") throw new Error("clients are registered through the admin API, not by oidc-provider");
      await store.saveOAuthModel(this.model, id, payload, expiresIn);
      if (this.model === "Session") await hooks.sessionSaved(payload, expiresIn);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === "Client") {
        const client = await clients.getOAuthClient(id);
        return client ? hooks.clientMetadata(client) : undefined;
      }
      // A JWT access token is not stored by oidc-provider: its record is ours, kept when it was issued.
      if (id.startsWith(JWT_ACCESS_TOKEN_HANDLE)) {
        // Introspection looks a token up as every kind at once; a handle names a JWT access token only,
        // so the other kinds (RefreshToken, ClientCredentials) are not asked of Redis.
        return this.model === ACCESS_TOKEN ? hooks.accessTokenRecord(id.slice(JWT_ACCESS_TOKEN_HANDLE.length)) : undefined;
      }
      const payload = (await store.findOAuthModel(this.model, id)) as AdapterPayload | undefined;
      // A refresh token of a session that ended is refused at the token endpoint; introspection must say so too.
      return payload && this.model === "RefreshToken" ? hooks.liveRefreshToken(payload) : payload;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return (await store.findOAuthModelByUid(this.model, uid)) as AdapterPayload | undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return (await store.findOAuthModelByUserCode(this.model, userCode)) as AdapterPayload | undefined;
    }

    /**
     * oidc-provider checks `consumed` after its find and consumes after that check; two redemptions
     * racing would both pass the check. The store's consume is one atomic step that only the first
     * wins: the second ends the grant, as a replay does.
     */
    async consume(id: string): Promise<void> {
      if (await store.consumeOAuthModel(this.model, id, Math.floor(Date.now() / 1000))) return;
      await hooks.replayed(this.model, (await store.findOAuthModel(this.model, id)) as AdapterPayload | undefined);
      throw hooks.invalidGrant("already used");
    }

    async destroy(id: string): Promise<void> {
      // Only JWT access tokens are issued, so an AccessToken destroyed is one revoked (RFC 7009).
      if (this.model === ACCESS_TOKEN) return hooks.revokeAccessToken(id);
      if (this.model === "Session") {
        const payload = (await store.findOAuthModel(this.model, id)) as AdapterPayload | undefined;
        await store.destroyOAuthModel(this.model, id);
        if (payload) await hooks.sessionDestroyed(payload);
        return;
      }
      await store.destroyOAuthModel(this.model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await hooks.revokeGrant(grantId);
    }
  };
}
