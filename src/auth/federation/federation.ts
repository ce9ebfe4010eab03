import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { IdentityChangedEvent } from "@revocable-auth/verifier/internal";
import type { Logger } from "pino";
import type { Clock } from "../../clock";
import type { FederationConfig, FederationProvider } from "../../config";
import { AuthError, isAuthError } from "../../errors";
import { identityId, type FederationFlow, type FederationStateStore, type IdentityStore, type LinkedIdentity, type UserRecord, type UserStore } from "../../store/store";
import type { Identity } from "../tokens/authenticator";
import { normalizeEmail } from "../accounts/accounts";
import type { Audit, AuditOrigin } from "../audit/audit";
import type { Assurance } from "../tokens/assurance";
import type { AuthResult, Sessions } from "../sessions/sessions";
import { openid } from "./openid";
import { CLOCK_TOLERANCE_SECONDS, type Providers, type ReadyProvider } from "./providers";
import { allowedRedirect, withError } from "./redirects";

/** A provider sign-in proves one factor the provider checked: aal1, RFC 8176's "fed". */
export const FEDERATED: Assurance = Object.freeze({ aal: "aal1", amr: Object.freeze(["fed"]) });

/** How long a started sign-in waits for its callback: the time to sign in at the provider. */
export const FLOW_TTL_MS = 10 * 60_000;
/** The oldest an ID token may be at the callback: it is minted when the code is redeemed, a moment before. */
const MAX_ID_TOKEN_AGE_SECONDS = 120;

/** The `?error=` codes of a failed callback (docs/social.md). */
export type FederationErrorCode = "OIDC_STATE_MISMATCH" | "OIDC_PROVIDER_ERROR" | "OIDC_ACCOUNT_EXISTS" | "OIDC_EMAIL_NOT_VERIFIED" | "ACCOUNT_DISABLED" | "DPOP_PROOF_REQUIRED";

/** A `dpop_jkt`: an RFC 7638 SHA-256 thumbprint, 32 bytes in base64url. */
const JKT = /^[\w-]{43}$/;

/** A start refused before any redirect: the route answers it with a status, never a redirect. */
export class FederationStartError extends Error {
  constructor(
    readonly status: 400 | 401 | 404,
    readonly code: "REDIRECT_NOT_ALLOWED" | "PROVIDER_NOT_FOUND" | "OIDC_STATE_MISMATCH" | "DPOP_PROOF_REQUIRED" | "INVALID_DPOP_PROOF",
    message: string,
  ) {
    super(message);
    this.name = "FederationStartError";
  }
}

/** What the provider said about the person, after every check passed. */
interface ProviderIdentity {
  readonly subject: string;
  readonly email: string | null;
  readonly emailVerified: boolean;
  /** The provider's session (the ID token's `sid`); null when it sends none. */
  readonly sid: string | null;
}

/** The provider's answer at the callback: a GET's query, or a form_post's POST body. */
export interface AuthorizationResponse {
  readonly method: "GET" | "POST";
  readonly params: URLSearchParams;
}

export type CallbackOutcome =
  /**
   * A session started: the route sets the refresh cookie and sends the browser to `redirectTo`; with
   * `interaction` (startForInteraction), it hands the session to that OAuth interaction instead.
   */
  | { readonly status: "signed_in"; readonly redirectTo: string; readonly result: AuthResult; readonly interaction?: string }
  /** linkIdentityUrl's flow: the identity is linked to the asking user; no session starts. */
  | { readonly status: "linked"; readonly redirectTo: string }
  /** `redirectTo` already carries `?error=<code>`. */
  | { readonly status: "failed"; readonly redirectTo: string; readonly code: FederationErrorCode };

export type FederationStore = FederationStateStore & IdentityStore & Pick<UserStore, "createUser" | "findUserIdByEmail" | "getUser">;

class CallbackFailure extends Error {
  constructor(
    readonly code: FederationErrorCode,
    readonly detail?: unknown,
  ) {
    super(code);
  }
}

/**
 * Sign-in with OpenID providers and GitHub (docs/social.md). openid-client does the protocol
 * checks (state, RFC 9207 `iss`, the ID token's signature with the pinned alg, aud, azp, nonce,
 * exp, PKCE); this is the glue: flows kept in the store, find-or-create with the linking rules,
 * and the session started through Sessions like any other sign-in.
 */
export class Federation {
  constructor(
    private readonly store: FederationStore,
    private readonly sessions: Sessions,
    readonly providers: Providers,
    private readonly config: FederationConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly audit: Audit | null = null,
    /** A link or unlink: published to the user's other live connections (sessionEvents' IDENTITY_*). */
    private readonly onIdentityChanged: (event: IdentityChangedEvent) => void = () => undefined,
  ) {}

  /** `signInProviders`: every configured provider, discovered yet or not (its sign-in says so). */
  list(): readonly Pick<FederationProvider, "id" | "label">[] {
    return this.providers.list.map(({ id, label }) => ({ id, label }));
  }

  /** Where a failure goes when the flow (and its redirect_to) is unknown: the first allowed redirect. */
  get fallbackRedirect(): string {
    const first = this.config.allowedRedirectUrls[0] ?? this.config.publicUrl;
    return first.endsWith("*") ? first.slice(0, -1) : first;
  }

  /**
   * How the provider comes back to the callback: `form_post` (Apple's preset, OIDC_<N>_RESPONSE_MODE)
   * is a cross-site POST, which only a SameSite=None flow cookie reaches; anything else a GET.
   */
  responseMode(providerId: string): "query" | "form_post" {
    const provider = this.providers.find(providerId);
    return provider?.kind === "oidc" ? provider.responseMode : "query";
  }

  /** PUBLIC_URL (null when unset): whether browsers reach the routes over https decides the cookies' names (`__Host-`). */
  get publicOrigin(): string | null {
    return this.config.publicUrl || null;
  }

  callbackUrl(providerId: string): string {
    return `${this.config.publicUrl}/auth/oidc/${providerId}/callback`;
  }

  /** Checks `redirectTo` against ALLOWED_REDIRECT_URLS; REDIRECT_NOT_ALLOWED otherwise. */
  checkRedirect(redirectTo: string | undefined): string {
    const url = redirectTo === undefined ? null : allowedRedirect(redirectTo, this.config.allowedRedirectUrls);
    if (url === null) throw new FederationStartError(400, "REDIRECT_NOT_ALLOWED", "redirect_to is not one of ALLOWED_REDIRECT_URLS");
    return url.href;
  }

  /**
   * Begins a sign-in (or, with `link`, a link for that user, asked from that session): a flow with a fresh state, nonce and PKCE
   * verifier is kept under a random id for the browser's cookie; the provider's URL is returned.
   * `dpopJkt`: the browser's DPoP key (RFC 9449 §10's `dpop_jkt`), which the session will be bound to.
   */
  async start(
    providerId: string,
    redirectTo: string | undefined,
    link?: { readonly userId: string; readonly sessionId: string; readonly bindingHash: string },
    dpopJkt?: string,
  ): Promise<{ readonly flowId: string; readonly authorizationUrl: string }> {
    const provider = this.providers.find(providerId);
    if (!provider) throw new FederationStartError(404, "PROVIDER_NOT_FOUND", `No sign-in provider "${providerId}"`);
    const target = this.checkRedirect(redirectTo);
    // A link starts no session, so binds nothing.
    const jkt = link === undefined ? this.binding(dpopJkt) : undefined;
    return this.begin(providerId, target, {
      ...(link === undefined ? {} : { linkUserId: link.userId, linkSessionId: link.sessionId, linkBindingHash: link.bindingHash }),
      ...(jkt === undefined ? {} : { jkt }),
    });
  }

  /**
   * Begins a sign-in for the OAuth provider's interaction `uid` (src/auth/oauth/interactions.ts):
   * the callback hands the session to that interaction, not to an app, and sends the browser back
   * to `returnTo`, the interaction's own page. The caller builds `returnTo` from this API's origin
   * and the uid it checked against the browser's interaction cookie; no request names it.
   */
  async startForInteraction(providerId: string, uid: string, returnTo: string): Promise<{ readonly flowId: string; readonly authorizationUrl: string }> {
    if (!this.providers.find(providerId)) throw new FederationStartError(404, "PROVIDER_NOT_FOUND", `No sign-in provider "${providerId}"`);
    const jkt = this.binding(undefined);
    return this.begin(providerId, returnTo, { interaction: uid, ...(jkt === undefined ? {} : { jkt }) });
  }

  /** A flow with a fresh state, nonce and PKCE verifier, kept under a random id; the provider's URL to send the browser to. */
  private async begin(providerId: string, target: string, extra: Partial<Pick<FederationFlow, "linkUserId" | "linkSessionId" | "linkBindingHash" | "jkt" | "interaction">>): Promise<{ readonly flowId: string; readonly authorizationUrl: string }> {
    const ready = this.providers.ready(providerId);
    if (!ready) return { flowId: "", authorizationUrl: withError(target, "OIDC_PROVIDER_ERROR") };
    const flow: FederationFlow = {
      provider: providerId,
      state: openid.randomState(),
      nonce: openid.randomNonce(),
      codeVerifier: openid.randomPKCECodeVerifier(),
      redirectTo: target,
      startedAt: this.clock.now(),
      ...extra,
    };
    const flowId = randomBytes(32).toString("base64url");
    await this.store.saveFlow(flowId, flow, FLOW_TTL_MS);
    return { flowId, authorizationUrl: await this.authorizationUrl(ready, flow) };
  }

  /** The start's `dpop_jkt`, checked: refused before the browser leaves, never at the callback. */
  private binding(dpopJkt: string | undefined): string | undefined {
    if (dpopJkt !== undefined && !JKT.test(dpopJkt)) throw new FederationStartError(400, "INVALID_DPOP_PROOF", "dpop_jkt must be the RFC 7638 SHA-256 thumbprint of the browser's DPoP key, in base64url");
    try {
      return this.sessions.bindingAhead(dpopJkt);
    } catch (error) {
      if (isAuthError(error) && error.reason === "DPOP_PROOF_REQUIRED") {
        throw new FederationStartError(401, "DPOP_PROOF_REQUIRED", "This server requires DPoP (DPOP=required): start the sign-in with dpop_jkt, the thumbprint of the browser's DPoP key");
      }
      throw error;
    }
  }

  /**
   * `linkIdentityUrl`: a link flow for the caller, who must have authenticated recently. The URL
   * is this API's start route with a one-time `link` id; `binding` goes into the asking browser's
   * link cookie, and the start route takes the flow only with it: a link URL that leaks, or that an
   * attacker gets the user to request and then opens elsewhere, links nothing (forced linking).
   */
  async linkUrl(identity: Identity, providerId: string, redirectTo: string): Promise<{ readonly url: string; readonly binding: string }> {
    await this.sessions.requireRecentAuthentication(identity);
    if (!this.providers.find(providerId)) throw new AuthError("NOT_FOUND", "PROVIDER_NOT_FOUND", `No sign-in provider "${providerId}"`);
    const target = allowedRedirect(redirectTo, this.config.allowedRedirectUrls);
    if (!target) throw new AuthError("BAD_USER_INPUT", "REDIRECT_NOT_ALLOWED", "redirectTo is not one of ALLOWED_REDIRECT_URLS");
    // An unverified address may be a squatter's: a provider linked now would survive the owner's
    // reset (which verifies the address and ends every session) and let the squatter back in.
    const user = await this.store.getUser(identity.userId);
    if (user?.emailVerified !== true) {
      throw new AuthError("FORBIDDEN", "EMAIL_NOT_VERIFIED", "Verify the account's address (the mailed link) before linking a provider identity");
    }
    const binding = randomBytes(32).toString("base64url");
    const { flowId } = await this.start(providerId, target.href, { userId: identity.userId, sessionId: identity.sessionId, bindingHash: sha256(binding) });
    if (!flowId) throw new AuthError("SERVICE_UNAVAILABLE", "STORE_UNAVAILABLE", `The provider "${providerId}" is not reachable yet`);
    return { url: `${this.config.publicUrl}/auth/oidc/${providerId}/start?link=${flowId}`, binding };
  }

  /**
   * The start route with `link`: taken once, whoever opens it; it goes on only in the browser whose
   * link cookie matches, moved to a fresh id for that browser's flow cookie.
   */
  async resumeLink(providerId: string, linkId: string, binding: string | undefined): Promise<{ readonly flowId: string; readonly authorizationUrl: string }> {
    const flow = await this.store.takeFlow(linkId);
    const ready = this.providers.ready(providerId);
    if (!flow || flow.provider !== providerId || flow.linkUserId === undefined || !ready) {
      throw new FederationStartError(400, "OIDC_STATE_MISMATCH", "This link URL was used already, has expired or is for another provider");
    }
    if (flow.linkBindingHash === undefined || binding === undefined || !sameHash(sha256(binding), flow.linkBindingHash)) {
      throw new FederationStartError(400, "OIDC_STATE_MISMATCH", "This link URL works only in the browser that asked for it (linkIdentityUrl); ask again from the browser that will open it");
    }
    const flowId = randomBytes(32).toString("base64url");
    await this.store.saveFlow(flowId, flow, FLOW_TTL_MS);
    return { flowId, authorizationUrl: await this.authorizationUrl(ready, flow) };
  }

  /** `me { identities }`. */
  identities(userId: string): Promise<LinkedIdentity[]> {
    return this.store.listIdentities(userId);
  }

  /**
   * `unlinkIdentity`: refused (LAST_CREDENTIAL) when no password, no passkey and no other identity
   * is left. The sessions the identity started end with it (as a removed passkey's do).
   */
  async unlink(identity: Identity, id: string, origin?: AuditOrigin): Promise<void> {
    const identities = await this.store.listIdentities(identity.userId);
    const target = identities.find((linked) => linked.id === id);
    // The store decides the last way in, atomically with the removal: two removals at once cannot both pass.
    const unlinked = target ? (await this.sessions.unlinkIdentity(identity.userId, id)).status : "missing";
    if (unlinked === "missing") throw new AuthError("NOT_FOUND", "IDENTITY_NOT_FOUND", "No such linked identity");
    if (unlinked === "last_credential") throw new AuthError("BAD_USER_INPUT", "LAST_CREDENTIAL", "This is the account's last way to sign in: set a password, add a passkey or link another provider first");
    this.audit?.identityUnlinked(identity, target!.provider, id, origin);
    this.onIdentityChanged({ userId: identity.userId, change: "unlinked", provider: target!.provider, sessionId: identity.sessionId, at: this.clock.now() });
  }

  private async authorizationUrl({ provider, client }: ReadyProvider, flow: FederationFlow): Promise<string> {
    const parameters: Record<string, string> = {
      redirect_uri: this.callbackUrl(provider.id),
      scope: provider.scopes,
      state: flow.state,
      code_challenge: await openid.calculatePKCECodeChallenge(flow.codeVerifier),
      code_challenge_method: "S256",
    };
    if (provider.kind === "oidc") parameters.nonce = flow.nonce;
    if (provider.kind === "oidc" && provider.responseMode === "form_post") parameters.response_mode = "form_post";
    return openid.buildAuthorizationUrl(client, parameters).href;
  }

  /**
   * The provider's answer. The flow is taken (once) by the cookie's id, and only when the answer
   * carries its `state` for this provider, before anything else: a replayed or swapped callback finds
   * nothing, and a forged one (any site can POST to a form_post callback) leaves the flow in place.
   */
  async callback(providerId: string, flowId: string | undefined, response: AuthorizationResponse, device: string | null, origin?: AuditOrigin): Promise<CallbackOutcome> {
    const state = response.params.get("state");
    const flow = flowId && state ? await this.store.takeFlow(flowId, { provider: providerId, state }) : null;
    const redirectTo = flow?.redirectTo ?? this.fallbackRedirect;
    const fail = (code: FederationErrorCode): CallbackOutcome => ({ status: "failed", redirectTo: withError(redirectTo, code), code });
    if (!flow || flow.provider !== providerId || state !== flow.state) return fail("OIDC_STATE_MISMATCH");
    const ready = this.providers.ready(providerId);
    // The answer comes only the way the provider was asked to send it: a form_post provider's code in a URL is refused.
    if (!ready || response.method !== (this.responseMode(providerId) === "form_post" ? "POST" : "GET")) return fail("OIDC_PROVIDER_ERROR");
    try {
      const identity = await this.identify(ready, flow, response.params);
      if (flow.linkUserId !== undefined) {
        // A pending link dies with the session that asked for it: ended by a password change, a
        // reset, logoutAll or disabling the user, it links nothing.
        if (flow.linkSessionId === undefined || !(await this.sessions.isLive(flow.linkUserId, flow.linkSessionId))) return fail("OIDC_STATE_MISMATCH");
        await this.link(flow.linkUserId, providerId, identity, flow.linkSessionId, origin);
        return { status: "linked", redirectTo };
      }
      const result = await this.signIn(providerId, identity, device, origin, flow.jkt, flow.startedAt ?? 0);
      return { status: "signed_in", redirectTo, result, ...(flow.interaction === undefined ? {} : { interaction: flow.interaction }) };
    } catch (error) {
      if (error instanceof CallbackFailure) {
        if (error.code === "OIDC_PROVIDER_ERROR") this.logger.warn({ provider: providerId, err: describe(error.detail) }, "a provider sign-in failed its checks");
        return fail(error.code);
      }
      if (isAuthError(error) && error.reason === "ACCOUNT_DISABLED") return fail("ACCOUNT_DISABLED");
      // The provider's back-channel logout for this provider session (or subject) came while the sign-in was in flight.
      if (isAuthError(error) && error.reason === "TOKEN_REVOKED") {
        this.logger.warn({ provider: providerId }, "a provider sign-in was refused: the provider signed its session out meanwhile");
        return fail("OIDC_PROVIDER_ERROR");
      }
      // DPOP_REQUIRED_FOR_ROLES, known only now that the user is: a sign-in started without dpop_jkt.
      if (isAuthError(error) && error.reason === "DPOP_PROOF_REQUIRED") return fail("DPOP_PROOF_REQUIRED");
      throw error;
    }
  }

  /** openid-client's checks, then the claims this API uses. Any failure is OIDC_PROVIDER_ERROR. */
  private async identify({ provider, client }: ReadyProvider, flow: FederationFlow, params: URLSearchParams): Promise<ProviderIdentity> {
    // The callback URL as registered, with the provider's parameters (query or form): the request's
    // own Host is never trusted. openid-client checks them alike (state, iss, code).
    const url = new URL(this.callbackUrl(provider.id));
    url.search = params.toString();
    try {
      if (provider.kind === "github") return await this.githubIdentity(provider, client, flow, url);
      const tokens = await openid.authorizationCodeGrant(client, url, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      const age = this.clock.now() / 1000 - claims.iat;
      if (age > MAX_ID_TOKEN_AGE_SECONDS + CLOCK_TOLERANCE_SECONDS) throw new Error(`the ID token was issued ${Math.round(age)} s ago`);
      // Many providers put the address in the ID token (Google, Apple); others only at UserInfo, whose
      // answer openid-client checks is about the ID token's subject.
      const profile = typeof claims.email === "string" || !client.serverMetadata().userinfo_endpoint ? claims : await openid.fetchUserInfo(client, tokens.access_token, claims.sub);
      return {
        subject: claims.sub,
        email: typeof profile.email === "string" ? profile.email : null,
        emailVerified: profile.email_verified === true,
        sid: typeof claims.sid === "string" ? claims.sid : null,
      };
    } catch (error) {
      throw error instanceof CallbackFailure ? error : new CallbackFailure("OIDC_PROVIDER_ERROR", error);
    }
  }

  /** GitHub (OAuth 2.0, no ID token): the user from /user, the verified primary address from /user/emails. */
  private async githubIdentity(provider: Extract<FederationProvider, { kind: "github" }>, client: ReadyProvider["client"], flow: FederationFlow, url: URL): Promise<ProviderIdentity> {
    const tokens = await openid.authorizationCodeGrant(client, url, { pkceCodeVerifier: flow.codeVerifier, expectedState: flow.state });
    const read = async <T>(path: string): Promise<T> => {
      const response = await openid.fetchProtectedResource(client, tokens.access_token, new URL(`${provider.apiUrl}${path}`), "GET", null, new Headers({ accept: "application/vnd.github+json" }));
      if (!response.ok) throw new Error(`GitHub's ${path} answered ${response.status}`);
      return (await response.json()) as T;
    };
    const user = await read<{ id?: unknown }>("/user");
    if (typeof user.id !== "number" && typeof user.id !== "string") throw new Error("GitHub's /user has no id");
    const emails = await read<{ email: string; primary: boolean; verified: boolean }[]>("/user/emails");
    const primary = Array.isArray(emails) ? emails.find((entry) => entry.primary) : undefined;
    return { subject: String(user.id), email: primary?.email ?? null, emailVerified: primary?.verified === true, sid: null };
  }

  /**
   * The linking rules: a linked identity signs its user in; else an address the provider verified
   * that no account holds gets a new account (no password until a reset sets one); an account that
   * holds the address is linked only when both sides verified it, else OIDC_ACCOUNT_EXISTS.
   */
  private async signIn(providerId: string, identity: ProviderIdentity, device: string | null, origin: AuditOrigin | undefined, jkt: string | undefined, startedAt: number): Promise<AuthResult> {
    const linked = await this.store.findIdentity(providerId, identity.subject);
    let user = linked && (await this.store.getUser(linked.userId));
    if (!user) user = await this.userFor(providerId, identity, origin);
    const result = await this.sessions.start(user, device, FEDERATED, undefined, undefined, jkt, { provider: providerId, subject: identity.subject, sid: identity.sid }, startedAt);
    if (result.session.pending) this.audit?.signInAwaitingMfa(result.session, origin, `oidc:${providerId}`);
    else this.audit?.signedIn(result.session, `oidc:${providerId}`, origin);
    return result;
  }

  private async userFor(providerId: string, identity: ProviderIdentity, origin?: AuditOrigin): Promise<UserRecord> {
    if (identity.email === null || !identity.emailVerified) {
      const holder = identity.email === null ? null : await this.store.findUserIdByEmail(normalizeEmail(identity.email));
      throw new CallbackFailure(holder === null ? "OIDC_EMAIL_NOT_VERIFIED" : "OIDC_ACCOUNT_EXISTS");
    }
    const email = normalizeEmail(identity.email);
    const holderId = await this.store.findUserIdByEmail(email);
    if (holderId !== null) {
      const holder = await this.store.getUser(holderId);
      if (!holder || holder.emailVerified !== true) throw new CallbackFailure("OIDC_ACCOUNT_EXISTS");
      await this.link(holder.id, providerId, identity, null, origin);
      return holder;
    }
    const user: UserRecord = { id: randomUUID(), email, roles: ["USER"], createdAt: this.clock.now(), disabled: false, emailVerified: true };
    // An empty hash: no password signs this account in until a reset sets one.
    if (!(await this.store.createUser(user, ""))) throw new CallbackFailure("OIDC_ACCOUNT_EXISTS");
    await this.link(user.id, providerId, identity, null, origin);
    return user;
  }

  private async link(userId: string, providerId: string, identity: ProviderIdentity, sessionId: string | null, origin?: AuditOrigin): Promise<LinkedIdentity> {
    const linked: LinkedIdentity = {
      id: identityId(providerId, identity.subject),
      provider: providerId,
      subject: identity.subject,
      userId,
      email: identity.email,
      linkedAt: this.clock.now(),
    };
    if ((await this.store.linkIdentity(linked)) === "taken") {
      const holder = await this.store.findIdentity(providerId, identity.subject);
      if (holder?.userId === userId) return holder;
      throw new CallbackFailure("OIDC_ACCOUNT_EXISTS");
    }
    this.audit?.identityLinked(userId, providerId, linked.id, sessionId, origin);
    this.onIdentityChanged({ userId, change: "linked", provider: providerId, ...(sessionId === null ? {} : { sessionId }), at: this.clock.now() });
    return linked;
  }
}

const sha256 = (value: string) => createHash("sha256").update(value).digest("base64url");

function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function describe(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code } = error as { code?: unknown };
  return { name: error.name, message: error.message, ...(typeof code === "string" ? { code } : {}) };
}
