import { AuthClientError } from "./errors.js";
import type { FetchLike } from "./environment.js";

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
  readonly user: User;
}

const PAYLOAD = "{ accessToken accessTokenExpiresAt refreshToken sessionId user { id email roles } }";
export const LOGIN = `mutation Login($input: LoginInput!) { login(input: $input) ${PAYLOAD} }`;
export const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) ${PAYLOAD} }`;
export const REFRESH = `mutation Refresh($refreshToken: String!) { refresh(refreshToken: $refreshToken) ${PAYLOAD} }`;
export const REFRESH_WITH_COOKIE = `mutation RefreshWithCookie { refresh ${PAYLOAD} }`;
export const LOGOUT = "mutation Logout { logout }";
export const LOGOUT_ALL = "mutation LogoutAll { logoutAll }";

interface GraphQLError {
  message?: string;
  extensions?: { code?: string; reason?: string };
}

export interface GraphQLTransport {
  readonly url: string;
  readonly fetch: FetchLike;
  /** True in cookie mode: the browser sends and stores the HttpOnly refresh cookie. */
  readonly withCookie: boolean;
}

/**
 * One GraphQL request as JSON POST, which passes the API's CSRF prevention as it is. Answers `data`,
 * or throws an AuthClientError with the first error's code and reason.
 */
export async function graphql<T>(transport: GraphQLTransport, query: string, variables: Record<string, unknown> = {}, token?: string | null): Promise<T> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
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

/** The `reason` of the first UNAUTHENTICATED error in a GraphQL response's errors, if any. */
export function refusalReason(errors: readonly { extensions?: Record<string, unknown> | null }[] | undefined | null): string | null {
  const refused = errors?.find((e) => e.extensions?.code === "UNAUTHENTICATED");
  const reason = refused?.extensions?.reason;
  return refused ? (typeof reason === "string" ? reason : "UNAUTHENTICATED") : null;
}
