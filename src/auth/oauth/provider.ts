import { DPOP_ALGORITHMS, isRevoked } from "@revocable-auth/verifier/internal";
import type { Logger } from "pino";
import type { Clock } from "../../clock";
import type { OAuthClientRecord, OAuthModelStore, OAuthClientStore, SessionStore, UserStore } from "../../store/store";
import { ISSUED_ACCESS_TOKEN } from "../../store/memory/oauth-models";
import type { Audit } from "../audit/audit";
import type { Sessions } from "../sessions/sessions";
import type { PrivateJwk } from "../tokens/signing-keys";
import type { Tokens } from "../tokens/tokens";
import { adapterClass, JWT_ACCESS_TOKEN_HANDLE } from "./adapter";
import type { OAuthGrants } from "./grants";
import { secretMatches } from "./clients";
import { oidc, type AdapterPayload, type OidcContext, type OidcToken, type Provider } from "./oidc";
import { API_SCOPE, OPENID_SCOPES, openidScopes, resourceScopes } from "../tokens/scopes";

/** Where oidc-provider's endpoints are, under the issuer; discovery stays at /.well-known/openid-configuration. */
export const OAUTH_ROUTES = {
  authorization: "/oauth/authorize",
  token: "/oauth/token",
  userinfo: "/oauth/userinfo",
  jwks: "/oauth/jwks",
  introspection: "/oauth/introspect",
  revocation: "/oauth/revoke",
  end_session: "/oauth/logout",
  pushed_authorization_request: "/oauth/par",
} as const;
/** The interaction pages (src/http/oauth.ts): sign-in, second factor, consent. */
export const INTERACTION_PATH = "/oauth/interaction";
/** Links the provider's browser session (by its uid) to the session of this API it signed in with. */
const API_SESSION = "ApiSession";
/** An authorization code is redeemed at once by a working client; a minute is RFC 6749's upper advice. */
const CODE_TTL_SECONDS = 60;
const INTERACTION_TTL_SECONDS = 600;
const ID_TOKEN_TTL_SECONDS = 3600;
/** The most apps one revocation names to onSessionEnded. */
const MAX_APPS_TOLD = 200;

export interface OAuthProviderSettings {
  readonly issuer: string;
  /** JWT_AUDIENCE: the one resource server, this API, whose access tokens are JWTs signed by the key set. */
  readonly audience: string;
  readonly algorithm: "ES256" | "RS256";
  /** The key set (JWT_KEYS_FILE): the signing key first, so oidc-provider signs with it. */
  readonly keys: readonly PrivateJwk[];
  readonly signingKid: string;
  /** Seconds: ACCESS_TOKEN_TTL, so the tokens pass the same lifetime rule at every verifier. */
  readonly accessTokenTtl: number;
  readonly refreshTokenTtl: number;
  /** Keys of the provider's cookies (derived from MFA_ENCRYPTION_KEY, the same on every instance). */
  readonly cookieKeys: readonly string[];
  /** TRUST_PROXY set: read the scheme and host from X-Forwarded-*. */
  readonly proxy: boolean;
}

export interface OAuthProviderDeps {
  readonly store: OAuthModelStore & Pick<SessionStore, "accessState" | "revokeAccessTokens"> & Pick<UserStore, "getUser">;
  /** The clients, as client authentication reads them on every call: client-cache.ts. */
  readonly clients: Pick<OAuthClientStore, "getOAuthClient">;
  readonly sessions: Pick<Sessions, "end">;
  readonly grants: Pick<OAuthGrants, "end" | "remove">;
  readonly tokens: Pick<Tokens, "verifyAccess">;
  readonly audit: Audit | null;
  readonly logger: Logger;
  readonly clock: Clock;
  /**
   * Called when sessions here that signed apps in end, for any reason (logout, logoutAll, a
   * password change or reset, disabling, RP-initiated logout), with the clients that had grants in
   * them: the seam of back-channel logout delivery (docs/oauth-provider.md). `sessionId` null: every
   * session of the user but `keepSessionId` (if any) ended.
   */
  readonly onSessionEnded?: (ended: EndedSignIn) => void;
  /** Tokens are issued to a client in a session here; awaited, so the link is kept before they leave (backchannel-logout.ts). */
  readonly onTokensIssued?: (userId: string, sessionId: string, clientId: string) => Promise<void>;
}

/** Sessions here that ended, and the apps that had grants in them. */
export interface EndedSignIn {
  readonly userId: string;
  readonly sessionId: string | null;
  readonly clientIds: readonly string[];
}

/** Marks an introspection handle that names a verified token in flight (presentedToken), not a jti: a jti never holds "~". */
const VERIFIED = "~";

/** What introspection needs of a JWT access token whose signature, type and lifetime were checked. */
interface VerifiedAccessToken {
  readonly jti: string;
  readonly sub: string;
  readonly sid: string;
  readonly clientId: string;
  readonly scope: string;
  readonly iat: number;
  readonly exp: number;
  /** `cnf.jkt` of a DPoP-bound token. */
  readonly jkt?: string;
}

/** The provider browser session (its uid) a session of this API signed in, by `userId sessionId`. */
const SIGNED_IN_BY = "ApiSessionOwner";

/** The session of this API a provider sign-in runs on. */
export interface ApiSessionLink {
  readonly userId: string;
  readonly sessionId: string;
}

/** What an interaction's result carries besides oidc-provider's own `login`: the API session it signed in with. */
export interface LoginResult {
  readonly login: { readonly accountId: string; readonly acr: string; readonly amr: readonly string[]; readonly ts: number; readonly remember: boolean };
  readonly apiSession: ApiSessionLink;
}

/**
 * This API as an OAuth 2.1 / OpenID provider: oidc-provider owns the protocol; here is its
 * configuration and the glue to this API's sessions, directory and revocation state.
 *
 * The rule that keeps every token revocation-aware: an access token's `sid` is the session of this
 * API the user signed in with at the interaction (recorded against the provider's browser session),
 * so logout, logoutAll, a password change or reset and disabling the user end it at every verifier.
 * No token is issued (code exchange, refresh) for a session here that has ended.
 */
export class OAuthProvider {
  readonly provider: Provider;
  /** The resource indicator (RFC 8707) of the one resource server, this API. */
  readonly resource: string;
  /** Introspection's verified tokens, by handle, while their request is in flight: at most one per request. */
  private readonly inFlight = new Map<string, VerifiedAccessToken>();
  private nextHandle = 0;

  constructor(
    private readonly settings: OAuthProviderSettings,
    private readonly deps: OAuthProviderDeps,
  ) {
    const { store } = deps;
    const { errors } = oidc;
    this.resource = `${settings.issuer}/graphql`;
    const Adapter = adapterClass(store, deps.clients, {
      clientMetadata: (client) => this.clientMetadata(client),
      accessTokenRecord: (token) => this.accessTokenRecord(token),
      liveRefreshToken: (payload) => this.liveRefreshToken(payload),
      revokeAccessToken: (jti) => this.revokePresentedAccessToken(jti),
      replayed: async (model, payload) => {
        if (typeof payload?.grantId === "string") await deps.grants.end(payload.grantId, model === "RefreshToken" ? "refresh_reuse" : "code_replay");
      },
      revokeGrant: (grantId) => deps.grants.remove(grantId),
      sessionSaved: (payload, expiresIn) => this.linkApiSession(payload, expiresIn),
      sessionDestroyed: (payload) => this.endApiSession(payload),
      invalidGrant: (description) => new errors.InvalidGrant!(description),
    });
    this.provider = new oidc.default(settings.issuer, this.configuration(Adapter));
    this.provider.proxy = settings.proxy;
    // Client secrets are stored hashed: oidc-provider's comparison is replaced by one against the hash.
    this.provider.Client.prototype.compareClientSecret = function compareClientSecret(actual: string) {
      return typeof this.clientSecret === "string" && secretMatches(this.clientSecret, actual);
    };
    this.provider.on("grant.success", (ctx: OidcContext) => {
      const client = ctx.oidc.client?.clientId;
      const params = ctx.oidc.params ?? {};
      const token = ctx.oidc.entities as { AccessToken?: OidcToken; ClientCredentials?: OidcToken } | undefined;
      if (client) deps.audit?.oauthTokensIssued(token?.AccessToken?.accountId ?? null, client, String(params.grant_type));
    });
    this.provider.on("server_error", (_ctx: unknown, error: Error) => deps.logger.error({ err: { name: error.name, message: error.message } }, "oidc-provider server error"));
  }

  /** The API session a provider browser session (by uid) signed in with; null once either has gone. */
  async apiSessionOf(sessionUid: string | undefined): Promise<ApiSessionLink | null> {
    if (sessionUid === undefined) return null;
    const link = await this.deps.store.findOAuthModel(API_SESSION, sessionUid);
    return link ? { userId: String(link.userId), sessionId: String(link.sessionId) } : null;
  }

  private configuration(Adapter: ReturnType<typeof adapterClass>): Record<string, unknown> {
    const { settings } = this;
    const { errors, interactionPolicy } = oidc as unknown as { errors: Record<string, new (d?: string) => Error>; interactionPolicy: InteractionPolicyModule };
    const policy = interactionPolicy.base();
    // requireMfa: a sign-in without a second factor (acr aal1) is asked to sign in again, with one.
    policy.get("login").checks.push(new interactionPolicy.Check("aal2_required", "This app requires a second factor", (ctx: { oidc: { client: { metadata(): Record<string, unknown> }; session: { acr?: string } } }) =>
      ctx.oidc.client.metadata().require_mfa === true && ctx.oidc.session.acr !== "aal2"));
    const signing = [settings.keys.find((key) => key.kid === settings.signingKid)!, ...settings.keys.filter((key) => key.kid !== settings.signingKid)];
    return {
      adapter: Adapter,
      clients: [],
      jwks: { keys: signing.map((key) => ({ ...key, use: "sig" })) },
      cookies: { keys: [...settings.cookieKeys], long: { signed: true }, short: { signed: true } },
      routes: OAUTH_ROUTES,
      responseTypes: ["code"],
      scopes: [...OPENID_SCOPES],
      // acr and amr: the level and methods of the sign-in (aal1/aal2; pwd, otp, …), so an app can require aal2 itself.
      // sid: the session of this API, as in the access tokens and the logout tokens (OIDC Back-Channel Logout 1.0 §2.4, §2.6).
      claims: { openid: ["sub", "sid", "acr", "amr", "auth_time"], email: ["email", "email_verified"], profile: [] },
      // Back-channel logout is ours (backchannel-logout.ts: durable, retried), not oidc-provider's feature; discovery says it is there.
      discovery: { claim_types_supported: ["normal"], backchannel_logout_supported: true, backchannel_logout_session_supported: true },
      acrValues: ["aal1", "aal2"],
      pkce: { required: () => true },
      extraClientMetadata: { properties: ["require_mfa"] },
      clientDefaults: { id_token_signed_response_alg: settings.algorithm, grant_types: ["authorization_code"], response_types: ["code"] },
      enabledJWA: {
        idTokenSigningAlgValues: [settings.algorithm],
        userinfoSigningAlgValues: [settings.algorithm],
        introspectionSigningAlgValues: [settings.algorithm],
        authorizationSigningAlgValues: [settings.algorithm],
        requestObjectSigningAlgValues: [settings.algorithm],
        clientAuthSigningAlgValues: [settings.algorithm],
        // The proofs /graphql and the verifier take (RFC 9449): a token bound at the token endpoint is usable there.
        dPoPSigningAlgValues: [...DPOP_ALGORITHMS],
      },
      tokenEndpointAuthMethods: ["client_secret_basic", "client_secret_post", "none"],
      rotateRefreshToken: true,
      issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) => client.grantTypeAllowed("refresh_token"),
      ttl: {
        AccessToken: settings.accessTokenTtl,
        ClientCredentials: settings.accessTokenTtl,
        AuthorizationCode: CODE_TTL_SECONDS,
        IdToken: ID_TOKEN_TTL_SECONDS,
        RefreshToken: settings.refreshTokenTtl,
        Interaction: INTERACTION_TTL_SECONDS,
        Session: settings.refreshTokenTtl,
        Grant: settings.refreshTokenTtl,
      },
      interactions: { policy, url: (_ctx: unknown, interaction: { uid: string }) => `${INTERACTION_PATH}/${interaction.uid}` },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: {
          enabled: true,
          // RFC 7662 §4: a client learns about its own tokens only.
          allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId,
        },
        revocation: {
          enabled: true,
          allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId,
        },
        rpInitiatedLogout: { enabled: true },
        // A client that sends a proof at the token endpoint gets a token with cnf.jkt; /graphql and the
        // verifier enforce it as they do the API's own bound tokens (same checks, same replay keys).
        dPoP: { enabled: true },
        resourceIndicators: {
          enabled: true,
          // RFC 8707 names a resource by an absolute URI: this API's /graphql. Its tokens' `aud` is JWT_AUDIENCE.
          defaultResource: () => this.resource,
          useGrantedResource: () => true,
          getResourceServerInfo: async (_ctx: unknown, resource: string, client: { clientId: string }) => {
            if (resource !== this.resource) throw new errors.InvalidTarget!();
            const record = await this.deps.clients.getOAuthClient(client.clientId);
            return {
              scope: resourceScopes(record?.scopes ?? []).join(" "),
              audience: settings.audience,
              accessTokenTTL: settings.accessTokenTtl,
              accessTokenFormat: "jwt",
              jwt: { sign: { alg: settings.algorithm } },
            };
          },
        },
      },
      findAccount: async (ctx: { oidc?: { session?: { uid?: string } } }, sub: string, token?: { sessionUid?: string }) => {
        const user = await this.deps.store.getUser(sub);
        if (!user || user.disabled) return undefined;
        // The provider session whose sign-in this is: the code's or refresh token's at the token endpoint, the browser's at authorize.
        const sessionUid = token?.sessionUid ?? ctx.oidc?.session?.uid;
        return { accountId: user.id, claims: async () => ({ sub: user.id, email: user.email, email_verified: user.emailVerified === true, ...(await this.sidClaim(user.id, sessionUid)) }) };
      },
      formats: {
        customizers: {
          // Always a `scope` claim, empty when no resource scope was granted: an access token this
          // provider issued must never pass for one of the API's own, which carry none (scopedRoles).
          jwt: async (_ctx: unknown, _token: unknown, jwt: { payload: Record<string, unknown> }) => {
            jwt.payload.scope ??= "";
          },
        },
      },
      extraTokenClaims: (_ctx: unknown, token: OidcToken & { jti: string; expiration: number }) => this.extraTokenClaims(token),
      renderError: async (ctx: { type: string; body: string }, out: { error: string; error_description?: string }) => {
        ctx.type = "html";
        ctx.body = errorPage(out.error, out.error_description);
      },
    };
  }

  /**
   * The claims this API adds to a user's access token: its session here (`sid`), and what the
   * verifier needs to apply the same rule as to the API's own tokens (roles, aal, amr,
   * email_verified). Refused when that session has ended: no token outlives its sign-in.
   */
  private async extraTokenClaims(token: OidcToken & { jti: string; expiration: number }): Promise<Record<string, unknown> | undefined> {
    if (token.kind !== "AccessToken" || token.accountId === undefined) return undefined;
    const link = await this.apiSessionOf(token.sessionUid);
    const state = link && (await this.deps.store.accessState(link.userId, link.sessionId, ""));
    if (!link || !state || isRevoked(state) || link.userId !== token.accountId) throw new oidc.errors.InvalidGrant!("the sign-in behind this grant has ended");
    const session = state.session!;
    const iat = Math.floor(this.deps.clock.now() / 1000);
    if (token.grantId) {
      const record = { grantId: token.grantId, accountId: token.accountId, clientId: token.clientId, sid: link.sessionId, scope: token.scope ?? "", iat, expiresAt: (iat + token.expiration) * 1000 };
      await this.deps.store.saveOAuthModel(ISSUED_ACCESS_TOKEN, token.jti, record, token.expiration);
      // The grant may have been removed since oidc-provider found it (revokeAppAccess, a deleted
      // client): a removal marks the access tokens it finds among the grant's records, and this one
      // may have been saved after it looked. The removal deletes the grant before it reads them, so
      // a grant still there now means this record was read, and its token marked, or will be.
      if (!(await this.deps.store.findOAuthModel("Grant", token.grantId))) throw new oidc.errors.InvalidGrant!("the grant was removed");
    }
    if (token.clientId !== undefined) await this.deps.onTokensIssued?.(link.userId, link.sessionId, token.clientId);
    const scopes = (token.scope ?? "").split(" ");
    return {
      sid: link.sessionId,
      roles: scopes.includes(API_SCOPE) ? state.user!.roles.filter((role) => role !== "ADMIN") : [],
      aal: session.assurance?.aal ?? "aal1",
      amr: session.assurance?.amr ?? ["pwd"],
      email_verified: state.user!.emailVerified === true,
    };
  }

  /**
   * The ID token's (and userinfo's) `sid`: the session of this API the provider session signed in
   * with, the `sid` its logout tokens carry, so a relying party matches one against the other.
   * oidc-provider's own per-client sid is not used: its backchannelLogout feature is off.
   */
  private async sidClaim(userId: string, sessionUid: string | undefined): Promise<{ sid?: string }> {
    const link = await this.apiSessionOf(sessionUid);
    return link && link.userId === userId ? { sid: link.sessionId } : {};
  }

  private clientMetadata(client: OAuthClientRecord): AdapterPayload {
    return {
      client_id: client.clientId,
      client_name: client.name,
      redirect_uris: [...client.redirectUris],
      post_logout_redirect_uris: [...client.redirectUris],
      grant_types: [...client.grantTypes],
      response_types: client.grantTypes.includes("authorization_code") ? ["code"] : [],
      // oidc-provider's `scope` names OpenID scopes only; the resource scopes come from getResourceServerInfo.
      ...(openidScopes(client.scopes).length > 0 ? { scope: openidScopes(client.scopes).join(" ") } : {}),
      token_endpoint_auth_method: client.public ? "none" : "client_secret_basic",
      ...(client.secretHash === null ? {} : { client_secret: client.secretHash }),
      ...(client.backchannelLogoutUri === null ? {} : { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: true }),
      require_mfa: client.requireMfa,
    };
  }

  /**
   * What introspection and revocation are handed for a presented token: a JWT access token that
   * verifies (this key set, type, lifetime) becomes the handle the adapter reads its record by;
   * one that does not, or a handle presented as is, a handle that finds nothing (`active: false`).
   * Anything else is left as is. For introspection the handle names the verified claims, kept in
   * memory while the request is in flight (VERIFIED, released by `release`), so the answer costs
   * one read of the revocation state and no record.
   */
  presentedToken(token: string, use: "introspection" | "revocation"): string {
    // A handle is made here, after the signature check, never taken from a client: one presented as is finds nothing.
    if (token.startsWith(JWT_ACCESS_TOKEN_HANDLE)) return `${JWT_ACCESS_TOKEN_HANDLE}unknown`;
    if (token.split(".").length !== 3) return token;
    try {
      const claims = this.deps.tokens.verifyAccess(token);
      if (use === "revocation") return `${JWT_ACCESS_TOKEN_HANDLE}${claims.jti}`;
      const { clientId } = claims;
      // Only this provider's tokens carry `scope`; the API's own are not introspectable here.
      if (claims.scope === undefined || clientId === undefined) return `${JWT_ACCESS_TOKEN_HANDLE}unknown`;
      const verified: VerifiedAccessToken = { jti: claims.jti, sub: claims.sub, sid: claims.sid, clientId, scope: claims.scope, iat: claims.iat, exp: claims.exp, ...(claims.jkt === undefined ? {} : { jkt: claims.jkt }) };
      const handle = `${VERIFIED}${(this.nextHandle++).toString(36)}`;
      this.inFlight.set(handle, verified);
      return `${JWT_ACCESS_TOKEN_HANDLE}${handle}`;
    } catch {
      return `${JWT_ACCESS_TOKEN_HANDLE}unknown`;
    }
  }

  /**
   * The record oidc-provider would have kept of a JWT access token (it keeps none), while its
   * session here is live and it is not revoked; undefined otherwise. Introspection's handle
   * carries the verified claims: the record is made from them after one read of the revocation
   * state, the same MGET as /graphql's, so it answers what /graphql would. It names no grant, so
   * oidc-provider skips its grant lookup: a grant that ends revokes its access tokens in that same
   * state (OAuthGrants.remove). Revocation reads the record kept when the token
   * was issued: ending the token's grant needs its id.
   */
  /** The request that was handed `presented` (presentedToken's answer) is answered: its claims are forgotten. */
  release(presented: string): void {
    if (presented.startsWith(JWT_ACCESS_TOKEN_HANDLE)) this.inFlight.delete(presented.slice(JWT_ACCESS_TOKEN_HANDLE.length));
  }

  private async accessTokenRecord(handle: string): Promise<AdapterPayload | undefined> {
    if (handle.startsWith(VERIFIED)) {
      const token = this.inFlight.get(handle);
      if (token === undefined || isRevoked(await this.deps.store.accessState(token.sub, token.sid, token.jti))) return undefined;
      const { jti, sub, sid, clientId, scope, iat, exp, jkt } = token;
      // jkt: a DPoP-bound token introspects as token_type DPoP with its cnf.jkt (RFC 9449 §6.2).
      return { jti, kind: "AccessToken", accountId: sub, clientId, scope, aud: this.settings.audience, iat, exp, ...(jkt === undefined ? {} : { jkt }), extra: { sid } };
    }
    const jti = handle;
    const issued = await this.deps.store.findOAuthModel(ISSUED_ACCESS_TOKEN, jti);
    if (!issued) return undefined;
    const state = await this.deps.store.accessState(String(issued.accountId), String(issued.sid), jti);
    if (isRevoked(state)) return undefined;
    return {
      jti,
      kind: "AccessToken",
      accountId: issued.accountId,
      clientId: issued.clientId,
      grantId: String(issued.grantId),
      scope: issued.scope,
      aud: this.settings.audience,
      iat: issued.iat,
      exp: Math.floor(Number(issued.expiresAt) / 1000),
      extra: { sid: issued.sid },
    };
  }

  /**
   * A refresh token while the session here it was issued in is live: logout, logoutAll, a password
   * change or reset and disabling end it at introspection as at the token endpoint (extraTokenClaims).
   */
  private async liveRefreshToken(payload: AdapterPayload): Promise<AdapterPayload | undefined> {
    const link = await this.apiSessionOf(typeof payload.sessionUid === "string" ? payload.sessionUid : undefined);
    if (!link || link.userId !== payload.accountId) return undefined;
    return isRevoked(await this.deps.store.accessState(link.userId, link.sessionId, "")) ? undefined : payload;
  }

  /** RFC 7009 on a JWT access token: oidc-provider found it through accessTokenRecord, so it is ours and live. */
  private async revokePresentedAccessToken(jti: string): Promise<void> {
    const issued = await this.deps.store.findOAuthModel(ISSUED_ACCESS_TOKEN, jti);
    if (!issued) return;
    await this.deps.store.revokeAccessTokens(String(issued.accountId), [{ jti, expiresAt: Number(issued.expiresAt) }]);
    await this.deps.store.destroyOAuthModel(ISSUED_ACCESS_TOKEN, jti);
  }

  /**
   * The sign-in at an interaction finishes in oidc-provider's resume step, which writes the
   * browser's Session: that write, in that request, carries the interaction's result, and with it
   * the session of this API the user signed in with.
   */
  private async linkApiSession(payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    const ctx = (oidc.default as unknown as { ctx?: { oidc?: { result?: Partial<LoginResult> } } }).ctx;
    const result = ctx?.oidc?.result;
    if (!result?.apiSession || typeof payload.uid !== "string" || payload.accountId !== result.login?.accountId) return;
    await this.deps.store.saveOAuthModel(API_SESSION, payload.uid, { ...result.apiSession }, expiresIn);
    await this.deps.store.saveOAuthModel(SIGNED_IN_BY, `${result.apiSession.userId} ${result.apiSession.sessionId}`, { uid: payload.uid }, expiresIn);
  }

  /**
   * A revocation here (the one event every revocation becomes): the apps that had grants in the
   * sessions it ended go to onSessionEnded. One session: the apps of the provider session it signed
   * in; more (logoutAll, a password change, disabling): every app the user has a grant with.
   */
  async revoked(event: { readonly kind: string; readonly userId: string; readonly sessionId?: string; readonly keepSessionId?: string }): Promise<void> {
    const listener = this.deps.onSessionEnded;
    if (!listener || event.kind === "roles_changed") return;
    if (event.sessionId !== undefined) {
      const owner = await this.deps.store.findOAuthModel(SIGNED_IN_BY, `${event.userId} ${event.sessionId}`);
      const session = owner && (await this.deps.store.findOAuthModelByUid("Session", String(owner.uid)));
      const clientIds = Object.keys((session?.authorizations ?? {}) as Record<string, unknown>);
      if (clientIds.length > 0) listener({ userId: event.userId, sessionId: event.sessionId, clientIds });
      return;
    }
    const grants = await this.deps.store.oauthGrantsOfAccount(event.userId, MAX_APPS_TOLD);
    const clientIds = [...new Set(grants.map((grant) => grant.clientId))];
    if (clientIds.length > 0) listener({ userId: event.userId, sessionId: null, clientIds });
  }

  /** RP-initiated logout (end_session_endpoint, confirmed): the session here ends too, and its sockets close. */
  private async endApiSession(payload: AdapterPayload): Promise<void> {
    const ctx = (oidc.default as unknown as { ctx?: { oidc?: { route?: string } } }).ctx;
    if (ctx?.oidc?.route !== "end_session_confirm" || typeof payload.uid !== "string") return;
    const link = await this.apiSessionOf(payload.uid);
    if (!link) return;
    await this.deps.store.destroyOAuthModel(API_SESSION, payload.uid);
    // The provider session is gone already, so revoked() finds no apps for this event: they are told here.
    if (await this.deps.sessions.end(link.userId, link.sessionId, "logout")) {
      const clientIds = Object.keys((payload.authorizations ?? {}) as Record<string, unknown>);
      if (clientIds.length > 0) this.deps.onSessionEnded?.({ userId: link.userId, sessionId: link.sessionId, clientIds });
    }
  }
}

interface InteractionPolicyModule {
  base(): { get(name: string): { checks: unknown[] } };
  Check: new (reason: string, description: string, check: (ctx: never) => boolean) => unknown;
}

/** oidc-provider's error page, without its inline styles: a plain page under a strict CSP. */
function errorPage(error: string, description?: string): string {
  const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body><main><h1>Sign-in error</h1><p>${escape(error)}</p>${description ? `<p>${escape(description)}</p>` : ""}</main></body></html>`;
}
