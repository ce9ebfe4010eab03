import type { KeyPair } from "dpop";
import { wantsNonce, type Dpop } from "./dpop.js";
import { AuthClientError } from "./errors.js";
import type { FetchLike, ResponseLike } from "./environment.js";

/** The user as the auth API returns it with every sign-in and refresh. */
export interface User {
  readonly id: string;
  readonly email: string;
  readonly roles: readonly string[];
}

/** An AuthPayload as this client asks for it. `refreshToken` is null in cookie mode. */
export interface AuthPayload {
  readonly accessToken: string;
  readonly accessTokenExpiresAt: string;
  readonly refreshToken: string | null;
  readonly sessionId: string;
  /** `"Bearer"`, or `"DPoP"` when the API bound the tokens to this client's key. */
  readonly tokenType: string;
  /** An aal1 session that waits for `verifyMfa`. */
  readonly mfaRequired: boolean;
  readonly user: User;
}

/** One of the caller's passkeys, as `addPasskey` answers it. */
export interface Passkey {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
}

const PAYLOAD = "{ accessToken accessTokenExpiresAt refreshToken sessionId tokenType mfaRequired user { id email roles } }";
export const LOGIN = `mutation Login($input: LoginInput!) { login(input: $input) ${PAYLOAD} }`;
export const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) ${PAYLOAD} }`;
export const REFRESH = `mutation Refresh($refreshToken: String!) { refresh(refreshToken: $refreshToken) ${PAYLOAD} }`;
export const REFRESH_WITH_COOKIE = `mutation RefreshWithCookie { refresh ${PAYLOAD} }`;
export const VERIFY_MFA = `mutation VerifyMfa($code: String!) { verifyMfa(code: $code) ${PAYLOAD} }`;
export const CONFIRM_TOTP = `mutation ConfirmTotp($code: String!) { confirmTotp(code: $code) { recoveryCodes auth ${PAYLOAD} } }`;
export const PASSKEY_LOGIN_OPTIONS = "mutation PasskeyLoginOptions($email: String) { passkeyLoginOptions(email: $email) }";
export const LOGIN_WITH_PASSKEY = `mutation LoginWithPasskey($response: JSON!, $device: String, $refreshTokenInCookie: Boolean) { loginWithPasskey(response: $response, device: $device, refreshTokenInCookie: $refreshTokenInCookie) ${PAYLOAD} }`;
export const PASSKEY_REGISTRATION_OPTIONS = "mutation PasskeyRegistrationOptions { passkeyRegistrationOptions }";
export const REGISTER_PASSKEY = "mutation RegisterPasskey($response: JSON!, $name: String) { registerPasskey(response: $response, name: $name) { id name createdAt } }";
export const REAUTHENTICATE = "mutation Reauthenticate($input: ReauthenticateInput!) { reauthenticate(input: $input) }";
export const LOGOUT = "mutation Logout { logout }";
export const LOGOUT_ALL = "mutation LogoutAll { logoutAll }";

interface GraphQLError {
  message?: string;
  extensions?: { code?: string; reason?: string };
}

export interface GraphQLTransport {
  /** The GraphQL endpoint, absolute (a DPoP proof names it). */
  readonly url: string;
  readonly fetch: FetchLike;
  /** True in cookie mode: the browser sends and stores the HttpOnly refresh cookie. */
  readonly withCookie: boolean;
  /** Signs DPoP proofs; null when DPoP is off. */
  readonly dpop: Dpop | null;
}

/**
 * How a request is authorized: with a token (`tokenType` its scheme), and with a DPoP proof when
 * the token is DPoP-bound or the request is a sign-in or refresh (`signIn`), whose answer binds
 * the new tokens to this client's key when the API offers DPoP.
 */
export interface Authorization {
  readonly token?: string | null;
  readonly tokenType?: string;
  readonly signIn?: boolean;
  /** A refresh of a DPoP-bound session: its refresh token is bound too, so no proof means no request. */
  readonly boundSession?: boolean;
  /** The key to sign with, when it is no longer the client's (the logout of a sign-out that replaced it). */
  readonly keyPair?: KeyPair;
}

/** The Authorization header, and the DPoP proof for this request when one belongs to it. */
export async function authorizationHeaders(dpop: Dpop | null, url: string, method: string, auth: Authorization): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  const bound = auth.tokenType === "DPoP";
  if (auth.token) headers.authorization = `${bound ? "DPoP" : "Bearer"} ${auth.token}`;
  if (dpop && (bound || (auth.signIn && !auth.token))) {
    try {
      headers.dpop = await dpop.proof(url, method, bound ? (auth.token ?? undefined) : undefined, auth.keyPair);
    } catch (error) {
      // No key (IndexedDB refused, no WebCrypto): a sign-in goes without, for bearer tokens, unless
      // the app requires DPoP; a bound token or refresh cannot, and the key may load next time.
      if (bound || auth.boundSession || dpop.required) throw keyUnavailable(error);
    }
  }
  return headers;
}

/** A DPoP key that did not load: a passing failure (the session stays), never a reason to go without. */
export function keyUnavailable(error: unknown): AuthClientError {
  return new AuthClientError("DPOP_KEY_UNAVAILABLE", "DPOP_KEY_UNAVAILABLE", `No DPoP key to sign a proof with: ${(error as Error).message}`);
}

/**
 * One GraphQL request as JSON POST, which passes the API's CSRF prevention as it is. Answers `data`,
 * or throws an AuthClientError with the first error's code and reason. A 401 that asks for the
 * server's DPoP nonce is signed again with it, once.
 */
export async function graphql<T>(transport: GraphQLTransport, query: string, variables: Record<string, unknown> = {}, auth: Authorization = {}): Promise<T> {
  let response = await post(transport, query, variables, auth);
  if (transport.dpop && wantsNonce(response.status, response.headers.get("www-authenticate"))) response = await post(transport, query, variables, auth);
  return answer<T>(response);
}

async function post(transport: GraphQLTransport, query: string, variables: Record<string, unknown>, auth: Authorization): Promise<ResponseLike> {
  const headers = { "content-type": "application/json", ...(await authorizationHeaders(transport.dpop, transport.url, "POST", auth)) };
  let response: ResponseLike;
  try {
    response = await transport.fetch(transport.url, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: transport.withCookie ? "include" : "omit",
    });
  } catch (error) {
    throw new AuthClientError("NETWORK_ERROR", "NETWORK_ERROR", `The auth API could not be reached: ${(error as Error).message}`);
  }
  transport.dpop?.nonce(transport.url, response.headers.get("dpop-nonce"));
  return response;
}

async function answer<T>(response: ResponseLike): Promise<T> {
  let body: { data?: T | null; errors?: GraphQLError[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new AuthClientError("BAD_RESPONSE", "BAD_RESPONSE", `The auth API answered ${response.status} without JSON`, response.status);
  }
  const first = body.errors?.[0];
  if (first || !body.data) {
    const retryAfter = Number(response.headers.get("retry-after"));
    throw new AuthClientError(
      first?.extensions?.code ?? "BAD_RESPONSE",
      first?.extensions?.reason ?? first?.extensions?.code ?? "BAD_RESPONSE",
      first?.message ?? "The auth API answered without data",
      response.status,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
  return body.data;
}

/** Refusals that say the session needs a second factor first: states, not errors to retry. */
export const SECOND_FACTOR_REASONS: ReadonlySet<string> = new Set(["MFA_REQUIRED", "MFA_ENROLLMENT_REQUIRED"]);

/**
 * The `reason` of the first UNAUTHENTICATED error in a GraphQL response's errors, or of a FORBIDDEN
 * `MFA_REQUIRED` / `MFA_ENROLLMENT_REQUIRED`, if any.
 */
export function refusalReason(errors: readonly { extensions?: Record<string, unknown> | null }[] | undefined | null): string | null {
  const refused = errors?.find(
    (e) => e.extensions?.code === "UNAUTHENTICATED" || (e.extensions?.code === "FORBIDDEN" && SECOND_FACTOR_REASONS.has(String(e.extensions.reason))),
  );
  const reason = refused?.extensions?.reason;
  return refused ? (typeof reason === "string" ? reason : "UNAUTHENTICATED") : null;
}
