import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { identityOf } from "@revocable-auth/verifier/internal";
import { isAuthError, ThrottledError } from "../../errors";
import type { OAuthModelStore, SessionRecord, UserRecord, UserStore } from "../../store/store";
import type { Accounts, Origin } from "../accounts/accounts";
import type { Audit } from "../audit/audit";
import type { Mfa } from "../mfa/mfa";
import type { OAuthClients } from "./clients";
import type { InteractionDetails } from "./oidc";
import type { LoginResult, OAuthProvider } from "./provider";

/** A password accepted, its second factor awaited: the pending session, by interaction uid (no token is kept). */
const PENDING_MFA = "InteractionMfa";
const PENDING_MFA_TTL_SECONDS = 300;

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
  | { readonly kind: "login"; readonly clientName: string; readonly error: InteractionError | null; readonly email?: string }
  | { readonly kind: "mfa"; readonly clientName: string; readonly error: InteractionError | null }
  | { readonly kind: "consent"; readonly clientName: string; readonly scopes: readonly string[] }
  | { readonly kind: "redirect"; readonly to: string };

/**
 * The interaction (sign-in, second factor, consent) of the OAuth provider, on this API's own
 * services: the same Accounts.login (throttle, audit, argon2) and Mfa.verify the GraphQL API calls.
 * The sign-in starts a session of this API, whose id every token of the grant carries as `sid`.
 */
export class OAuthInteractions {
  constructor(
    private readonly oauth: OAuthProvider,
    private readonly accounts: Pick<Accounts, "login">,
    private readonly mfa: Pick<Mfa, "verify">,
    private readonly clients: Pick<OAuthClients, "get">,
    private readonly store: Pick<OAuthModelStore, "saveOAuthModel" | "findOAuthModel" | "destroyOAuthModel"> & Pick<UserStore, "getUser">,
    private readonly audit: Audit | null,
    private readonly csrfKey: Buffer,
  ) {}

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

  /** The page an interaction shows now. */
  async show(details: InteractionDetails): Promise<InteractionOutcome> {
    const clientName = await this.clientName(details);
    if (details.prompt.name === "login") {
      const pending = await this.store.findOAuthModel(PENDING_MFA, details.uid);
      return pending ? { kind: "mfa", clientName, error: null } : { kind: "login", clientName, error: null };
    }
    return { kind: "consent", clientName, scopes: requestedScopes(details) };
  }

  async login(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, email: string, password: string, origin: Origin): Promise<InteractionOutcome> {
    const clientName = await this.clientName(details);
    if (details.prompt.name !== "login") return { kind: "consent", clientName, scopes: requestedScopes(details) };
    let session: SessionRecord;
    let user: UserRecord;
    try {
      ({ session, user } = await this.accounts.login({ email, password, device: `${clientName} (OAuth)` }, origin));
    } catch (error) {
      if (isAuthError(error) && error.code !== "SERVICE_UNAVAILABLE") return { kind: "login", clientName, error: refusal(error), email };
      throw error;
    }
    if (session.pending === true) {
      await this.store.saveOAuthModel(PENDING_MFA, details.uid, { userId: user.id, sessionId: session.id, expiresAt: session.expiresAt, aal: session.assurance?.aal ?? "aal1", amr: [...(session.assurance?.amr ?? ["pwd"])] }, PENDING_MFA_TTL_SECONDS);
      return { kind: "mfa", clientName, error: null };
    }
    return this.finishLogin(req, res, details, user, session);
  }

  async secondFactor(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, code: string, origin: Origin): Promise<InteractionOutcome> {
    const clientName = await this.clientName(details);
    const pending = await this.store.findOAuthModel(PENDING_MFA, details.uid);
    if (!pending) return { kind: "login", clientName, error: SIGN_IN_AGAIN };
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
      return this.finishLogin(req, res, details, result.user, result.session);
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

  private async finishLogin(req: IncomingMessage, res: ServerResponse, details: InteractionDetails, user: UserRecord, session: SessionRecord): Promise<InteractionOutcome> {
    const client = await this.clients.get(details.params.client_id);
    const aal = session.assurance?.aal ?? "aal1";
    if (client?.requireMfa && aal !== "aal2") {
      return { kind: "redirect", to: await this.abort(req, res, "this app requires a second factor: turn one on for your account first") };
    }
    const result: LoginResult = {
      login: { accountId: user.id, acr: aal, amr: [...(session.assurance?.amr ?? ["pwd"])], ts: Math.floor((session.authenticatedAt ?? Date.now()) / 1000), remember: true },
      apiSession: { userId: user.id, sessionId: session.id },
    };
    return { kind: "redirect", to: await this.oauth.provider.interactionResult(req, res, { ...result }, { mergeWithLastSubmission: false }) };
  }

  private async clientName(details: InteractionDetails): Promise<string> {
    return (await this.clients.get(details.params.client_id))?.name ?? details.params.client_id;
  }
}

const SIGN_IN_AGAIN: InteractionError = { message: "Sign in again", reason: "SIGN_IN_AGAIN" };

function refusal(error: { message: string; reason: string }): InteractionError {
  return error instanceof ThrottledError ? { message: error.message, reason: error.reason, retryAfterSeconds: error.retryAfterSeconds } : { message: error.message, reason: error.reason };
}

/** The scopes the client asked for, as the consent page lists them. */
function requestedScopes(details: InteractionDetails): string[] {
  return String(details.params.scope ?? "").split(" ").filter(Boolean);
}
