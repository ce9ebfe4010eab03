import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { identityOf } from "@revocable-auth/verifier/internal";
import { AuthError, isAuthError, ThrottledError } from "../../errors";
import type { OAuthModelPayload, OAuthModelStore, UserRecord, UserStore } from "../../store/store";
import type { Accounts, Origin } from "../accounts/accounts";
import type { Throttle } from "../abuse/throttle";
import type { Audit } from "../audit/audit";
import { FederationStartError, type Federation, type FederationErrorCode } from "../federation/federation";
import type { Mfa } from "../mfa/mfa";
import type { Passkeys } from "../passkeys/passkeys";
import type { AuthResult, Sessions } from "../sessions/sessions";
import type { OAuthClients } from "./clients";
import type { InteractionDetails } from "./oidc";
import { INTERACTION_PATH, type LoginResult, type OAuthProvider } from "./provider";

/** A password accepted, its second factor awaited: the pending session, by interaction uid (no token is kept). */
const PENDING_MFA = "InteractionMfa";
const PENDING_MFA_TTL_SECONDS = 300;
/**
 * A provider sign-in completed at /auth/oidc/<id>/callback for this interaction: its session, by
 * interaction uid, until the browser is back on the interaction's page (which takes it once).
 */
const PROVIDER_SIGN_IN = "InteractionProviderSignIn";

/** The `?error=` codes a provider's callback sends back to the interaction page (Federation's, docs/social.md); no other is shown. */
export const PROVIDER_ERRORS: ReadonlySet<string> = new Set<FederationErrorCode>(["OIDC_STATE_MISMATCH", "OIDC_PROVIDER_ERROR", "OIDC_ACCOUNT_EXISTS", "OIDC_EMAIL_NOT_VERIFIED", "ACCOUNT_DISABLED", "DPOP_PROOF_REQUIRED"]);

/**
 * The ways to sign in besides the password, as /auth/sign-in offers them, on the same services:
 * Passkeys (loginWithPasskey's ceremony) and Federation (the sign-in providers' flows).
 */
export interface InteractionSignInMethods {
  /** Null with PASSKEYS=off: no passkey is offered. */
  readonly passkeys: Pick<Passkeys, "loginOptions" | "login"> | null;
  /**
   * The sign-in providers, and this API's origin their callback comes back to (PUBLIC_URL). Null
   * when there are none, or when PUBLIC_URL's origin is not the issuer's: the callback must land
   * where the browser holds the interaction's cookies.
   */
  readonly federation: {
    readonly service: Pick<Federation, "list" | "startForInteraction">;
    readonly origin: string;
    /** OIDC_START_MAX_PER_IP, as /auth/oidc/<id>/start counts: a start stores a flow before anyone proved anything. */
    readonly throttle: Pick<Throttle, "checkFederationStart">;
  } | null;
  /** A provider sign-in is picked up a moment after the callback started its session: only while that session is live. */
  readonly sessions: Pick<Sessions, "isLive">;
}

/** The session a sign-in step started, as the interaction passes it on (no token is kept). */
interface SignedInSession {
  readonly userId: string;
  readonly sessionId: string;
  readonly expiresAt: number;
  readonly aal: string;
  readonly amr: readonly string[];
  /** Epoch ms. */
  readonly authenticatedAt: number;
}

/**
 * Why a step was refused: the API's message and reason, as the pages show them next to the field;
 * `retryAfterSeconds` when a throttle refused it. SIGN_IN_AGAIN: the pending second factor is gone.
 */
export interface InteractionError {
  readonly message: string;
  readonly reason: string;
  readonly retryAfterSeconds?: number;
}

/** What a step of the interaction leads to: a page to show, or where the browser goes next (always oidc-provider's own URL). */
export type InteractionOutcome =
  /** `via`: which control the error belongs next to (the password form's fields by default). */
  | { readonly kind: "login"; readonly clientName: string; readonly error: InteractionError | null; readonly email?: string; readonly via?: "passkey" }
  | { readonly kind: "mfa"; readonly clientName: string; readonly error: InteractionError | null }
  | { readonly kind: "consent"; readonly clientName: string; readonly scopes: readonly string[] }
  | { readonly kind: "redirect"; readonly to: string };

/**
 * The interaction (sign-in, second factor, consent) of the OAuth provider, on this API's own
 * services: the same Accounts.login (throttle, audit, argon2), Passkeys.login, provider sign-in
 * (Federation) and Mfa.verify the GraphQL API and /auth/sign-in call. The sign-in starts a session
 * of this API, whose id every token of the grant carries as `sid`.
 */
export class OAuthInteractions {
  constructor(
    private readonly oauth: OAuthProvider,
    private readonly accounts: Pick<Accounts, "login">,
    private readonly mfa: Pick<Mfa, "verify">,
    private readonly clients: Pick<OAuthClients, "get">,
    private readonly store: Pick<OAuthModelStore, "saveOAuthModel" | "findOAuthModel" | "consumeOAuthModel" | "destroyOAuthModel"> & Pick<UserStore, "getUser">,
    private readonly audit: Audit | null,
    private readonly csrfKey: Buffer,
    private readonly methods: InteractionSignInMethods,
  ) {}

  /** Whether the sign-in page offers a passkey. */
  get passkeysOffered(): boolean {
    return this.methods.passkeys !== null;
  }

  /** The provider buttons of the sign-in page. */
  providers(): readonly { readonly id: string; readonly label: string }[] {
    return this.methods.federation?.service.list() ?? [];
  }

  /** A form's CSRF token: bound to the interaction (and the interaction cookie oidc-provider checks besides). */
  csrfToken(uid: string): string {
    return createHmac("sha256", this.csrfKey).update(`oauth interaction ${uid}`).digest("base64url");
  }

  csrfMatches(uid: string, presented: unknown): boolean {
    if (typeof presented !== "string") return false;
    const expected = Buffer.from(this.csrfToken(uid));
    const given = Buffer.from(presented);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  details(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails> {
    return this.oauth.provider.interactionDetails(req, res);
  }

  /**
   * The page an interaction shows now; a provider sign-in the callback handed over is taken (once)
   * and completes the sign-in here. `providerError`: the `?error=` a failed provider sign-in came back with.
   */
  async show(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, providerError: string | null = null): Promise<InteractionOutcome> {
    const clientName = await this.clientName(details);
    if (details.prompt.name === "login") {
      const handed = await this.takeProviderSignIn(details.uid);
      if (handed) return this.finishLogin(req, res, details, handed);
      const pending = await this.pendingSecondFactor(details.uid);
      if (pending === "ended") return { kind: "login", clientName, error: SIGN_IN_AGAIN };
      if (pending) return { kind: "mfa", clientName, error: null };
      const error = providerError !== null && PROVIDER_ERRORS.has(providerError) ? { message: "Signing in with the provider did not work", reason: providerError } : null;
      return { kind: "login", clientName, error };
    }
    return { kind: "consent", clientName, scopes: requestedScopes(details) };
  }

  async login(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, email: string, password: string, origin: Origin): Promise<InteractionOutcome> {
    const clientName = await this.clientName(details);
    if (details.prompt.name !== "login") return { kind: "consent", clientName, scopes: requestedScopes(details) };
    let result: AuthResult;
    try {
      result = await this.accounts.login({ email, password, device: `${clientName} (OAuth)` }, origin);
    } catch (error) {
      if (isAuthError(error) && error.code !== "SERVICE_UNAVAILABLE") return { kind: "login", clientName, error: refusal(error), email };
      throw error;
    }
    return this.signedIn(req, res, details, clientName, result);
  }

  /** The passkey's first step: request options for a discoverable credential, as passkeyLoginOptions gives them. */
  passkeyOptions(origin: Origin): Promise<object> {
    return this.enabledPasskeys().loginOptions(null, origin);
  }

  /**
   * A passkey's assertion, checked by the same Passkeys.login as loginWithPasskey and /auth/sign-in
   * (throttle, audit, counter). It starts a session at aal2, which a client's requireMfa accepts as
   * it accepts a password and a second factor.
   */
  async passkeyLogin(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, response: unknown, origin: Origin): Promise<InteractionOutcome> {
    const clientName = await this.clientName(details);
    if (details.prompt.name !== "login") return { kind: "consent", clientName, scopes: requestedScopes(details) };
    let result: AuthResult;
    try {
      result = await this.enabledPasskeys().login(response, `${clientName} (OAuth)`, origin);
    } catch (error) {
      if (isAuthError(error) && error.code !== "SERVICE_UNAVAILABLE") return { kind: "login", clientName, error: refusal(error), via: "passkey" };
      throw error;
    }
    return this.signedIn(req, res, details, clientName, result);
  }

  /**
   * A provider button: a provider sign-in whose callback comes back to this interaction's own page
   * (built here from PUBLIC_URL and the uid oidc-provider checked against the browser's cookie),
   * never to a URL a request names. Returns the flow for the route's cookie and the provider's URL,
   * or the sign-in page with the reason it could not start.
   */
  async startProviderSignIn(details: InteractionDetails, providerId: string, clientIp: string): Promise<{ readonly flowId: string; readonly authorizationUrl: string } | InteractionOutcome> {
    const federation = this.methods.federation;
    const clientName = await this.clientName(details);
    if (details.prompt.name !== "login") return { kind: "consent", clientName, scopes: requestedScopes(details) };
    if (!federation) return { kind: "login", clientName, error: { message: `No sign-in provider "${providerId}"`, reason: "PROVIDER_NOT_FOUND" } };
    try {
      await federation.throttle.checkFederationStart(clientIp);
      return await federation.service.startForInteraction(providerId, details.uid, `${federation.origin}${INTERACTION_PATH}/${encodeURIComponent(details.uid)}`);
    } catch (error) {
      if (error instanceof FederationStartError) return { kind: "login", clientName, error: { message: error.message, reason: error.code } };
      if (error instanceof ThrottledError) return { kind: "login", clientName, error: refusal(error) };
      throw error;
    }
  }

  /**
   * The callback of a provider sign-in started here: its session waits for the browser, by
   * interaction uid (with a second factor still to come when the account has one). The browser
   * holds the sign-in's flow cookie, which the interaction's own page set: it is this interaction's.
   */
  async providerSignedIn(uid: string, result: AuthResult): Promise<void> {
    const session = signedInSession(result);
    await this.store.saveOAuthModel(result.session.pending === true ? PENDING_MFA : PROVIDER_SIGN_IN, uid, { ...session }, PENDING_MFA_TTL_SECONDS);
  }

  async secondFactor(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, code: string, origin: Origin): Promise<InteractionOutcome> {
    const clientName = await this.clientName(details);
    const pending = await this.pendingSecondFactor(details.uid);
    if (!pending || pending === "ended") return { kind: "login", clientName, error: SIGN_IN_AGAIN };
    const user = await this.store.getUser(String(pending.userId));
    if (!user) return { kind: "login", clientName, error: SIGN_IN_AGAIN };
    const identity = identityOf<UserRecord>(
      { sub: user.id, sid: String(pending.sessionId), jti: "", exp: Math.floor(Number(pending.expiresAt) / 1000), aal: pending.aal as "aal1", amr: pending.amr as string[] },
      user.roles,
      user.emailVerified === true,
      user,
    );
    try {
      const result = await this.mfa.verify(identity, code, origin);
      await this.store.destroyOAuthModel(PENDING_MFA, details.uid);
      return this.finishLogin(req, res, details, signedInSession(result));
    } catch (error) {
      if (isAuthError(error) && error.code !== "SERVICE_UNAVAILABLE") return { kind: "mfa", clientName, error: refusal(error) };
      throw error;
    }
  }

  /** Allow: the grant gets what the client asked for and the user saw on the consent page. */
  async consent(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, origin: Origin): Promise<InteractionOutcome> {
    if (details.prompt.name !== "consent" || !details.session?.accountId) return { kind: "redirect", to: await this.abort(req, res, "consent was not asked for") };
    const accountId = details.session.accountId;
    const { Grant } = this.oauth.provider;
    const grant = (details.grantId ? await Grant.find(details.grantId) : undefined) ?? new Grant({ accountId, clientId: details.params.client_id });
    const prompt = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(" "));
    if (prompt.missingOIDCClaims) grant.addOIDCClaims(prompt.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(prompt.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(" "));
    const grantId = await grant.save();
    const link = await this.oauth.apiSessionOf(details.session.uid);
    this.audit?.oauthConsentGiven(accountId, link?.sessionId ?? "", details.params.client_id, requestedScopes(details).join(" "), origin);
    return { kind: "redirect", to: await this.oauth.provider.interactionResult(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true }) };
  }

  /** Deny, or anything that cannot go on: the client gets `access_denied` at its registered redirect URI. */
  abort(req: IncomingMessage, res: ServerResponse, description = "the user denied access"): Promise<string> {
    return this.oauth.provider.interactionResult(req, res, { error: "access_denied", error_description: description }, { mergeWithLastSubmission: false });
  }

  /** A sign-in step's session: on to the second factor when it waits for one, else the sign-in is done. */
  private async signedIn(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, clientName: string, result: AuthResult): Promise<InteractionOutcome> {
    if (result.session.pending === true) {
      await this.store.saveOAuthModel(PENDING_MFA, details.uid, { ...signedInSession(result) }, PENDING_MFA_TTL_SECONDS);
      return { kind: "mfa", clientName, error: null };
    }
    return this.finishLogin(req, res, details, signedInSession(result));
  }

  /**
   * The second factor this interaction waits for, while the session its first step started is live:
   * one that ended meanwhile (a password change or reset, logoutAll, the provider's logout) is
   * forgotten ("ended"), so the page asks to sign in again instead of for a code nothing can accept.
   */
  private async pendingSecondFactor(uid: string): Promise<OAuthModelPayload | "ended" | null> {
    const pending = await this.store.findOAuthModel(PENDING_MFA, uid);
    if (!pending) return null;
    if (await this.methods.sessions.isLive(String(pending.userId), String(pending.sessionId))) return pending;
    await this.store.destroyOAuthModel(PENDING_MFA, uid);
    return "ended";
  }

  /** A provider sign-in the callback handed over, taken once, while its session is live. */
  private async takeProviderSignIn(uid: string): Promise<SignedInSession | null> {
    const handed = await this.store.findOAuthModel(PROVIDER_SIGN_IN, uid);
    if (!handed || !(await this.store.consumeOAuthModel(PROVIDER_SIGN_IN, uid, Math.floor(Date.now() / 1000)))) return null;
    await this.store.destroyOAuthModel(PROVIDER_SIGN_IN, uid);
    const session = handed as unknown as SignedInSession;
    return (await this.methods.sessions.isLive(session.userId, session.sessionId)) ? session : null;
  }

  /**
   * The sign-in is done: oidc-provider gets the account, with the session's level as `acr` and its
   * methods as `amr` (pwd+otp, hwk/swk+user for a passkey, fed for a provider), whatever the door.
   */
  private async finishLogin(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, session: SignedInSession): Promise<InteractionOutcome> {
    const client = await this.clients.get(details.params.client_id);
    if (client?.requireMfa && session.aal !== "aal2") {
      return { kind: "redirect", to: await this.abort(req, res, "this app requires a second factor: turn one on for your account first") };
    }
    const result: LoginResult = {
      login: { accountId: session.userId, acr: session.aal, amr: [...session.amr], ts: Math.floor(session.authenticatedAt / 1000), remember: true },
      apiSession: { userId: session.userId, sessionId: session.sessionId },
    };
    return { kind: "redirect", to: await this.oauth.provider.interactionResult(req, res, { ...result }, { mergeWithLastSubmission: false }) };
  }

  private enabledPasskeys(): Pick<Passkeys, "loginOptions" | "login"> {
    if (!this.methods.passkeys) throw new AuthError("FORBIDDEN", "PASSKEYS_DISABLED", "Passkeys are off on this server (PASSKEYS=off)");
    return this.methods.passkeys;
  }

  private async clientName(details: InteractionDetails): Promise<string> {
    return (await this.clients.get(details.params.client_id))?.name ?? details.params.client_id;
  }
}

function signedInSession({ session }: Pick<AuthResult, "session">): SignedInSession {
  return {
    userId: session.userId,
    sessionId: session.id,
    expiresAt: session.expiresAt,
    aal: session.assurance?.aal ?? "aal1",
    amr: [...(session.assurance?.amr ?? ["pwd"])],
    authenticatedAt: session.authenticatedAt ?? Date.now(),
  };
}

const SIGN_IN_AGAIN: InteractionError = { message: "Sign in again", reason: "SIGN_IN_AGAIN" };

function refusal(error: { message: string; reason: string }): InteractionError {
  return error instanceof ThrottledError ? { message: error.message, reason: error.reason, retryAfterSeconds: error.retryAfterSeconds } : { message: error.message, reason: error.reason };
}

/** The scopes the client asked for, as the consent page lists them. */
function requestedScopes(details: InteractionDetails): string[] {
  return String(details.params.scope ?? "").split(" ").filter(Boolean);
}
