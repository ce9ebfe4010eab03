import type { FastifyReply, FastifyRequest } from "fastify";
import type { Origin } from "../../auth/accounts/accounts";
import type { AuthResult, Sessions } from "../../auth/sessions/sessions";
import type { Authenticator, Identity } from "../../auth/tokens/authenticator";
import { isAuthError } from "../../errors";

/** The page session's access token; while it lives, a page costs one revocation read, as any API call. */
export const PAGE_ACCESS_COOKIE = "auth_access";
/** The page session's refresh token: a new access token when the last one expired. */
export const PAGE_REFRESH_COOKIE = "auth_refresh";
const PAGE_COOKIE_PATH = "/auth/";

/**
 * How the hosted pages hold a sign-in (docs/pages.md#the-page-session): the session's own tokens, in
 * HttpOnly cookies scoped to /auth/, checked on every page like a bearer token. Every page reads the
 * session's revocation state, so a revoked session (signed out elsewhere, password reset, disabled)
 * ends the page session at the very next request; nothing the pages keep outlives it.
 *
 * Lax, not Strict: a mail link or a provider's redirect is a top-level navigation from another site,
 * and the account page must still know the browser there. Every state change is a POST, which Lax
 * keeps off cross-site requests, and carries a CSRF token besides.
 */
export class PageSessions {
  constructor(
    private readonly authenticator: Authenticator,
    private readonly sessions: Sessions,
  ) {}

  /** The signed-in identity, or null; an expired access token is renewed once with the refresh cookie. */
  async identify(request: FastifyRequest, reply: FastifyReply, origin: Origin): Promise<Identity | null> {
    const cookies = readCookies(request);
    const access = cookies[PAGE_ACCESS_COOKIE];
    if (access) {
      const identity = await this.authenticate(access);
      if (identity) return identity;
    }
    const refresh = cookies[PAGE_REFRESH_COOKIE];
    if (!refresh) {
      if (access) this.clear(request, reply);
      return null;
    }
    try {
      const result = await this.sessions.refresh(refresh, origin);
      this.keep(request, reply, result, true);
      return await this.authenticate(result.accessToken.token);
    } catch (error) {
      if (!isAuthError(error) || error.code !== "UNAUTHENTICATED") throw error;
      this.clear(request, reply);
      return null;
    }
  }

  /**
   * Keeps a sign-in's tokens for the pages. `withRefresh` false: the refresh token went to the app
   * (its /graphql cookie), and one refresh token must have one holder, or rotation by one would
   * look like theft to the other; the pages then last as long as the access token.
   */
  keep(request: FastifyRequest, reply: FastifyReply, result: AuthResult, withRefresh: boolean): void {
    write(request, reply, PAGE_ACCESS_COOKIE, result.accessToken.token, result.accessToken.expiresAt);
    if (withRefresh) write(request, reply, PAGE_REFRESH_COOKIE, result.refreshToken.token, result.refreshToken.expiresAt);
    else write(request, reply, PAGE_REFRESH_COOKIE, "", 0);
  }

  clear(request: FastifyRequest, reply: FastifyReply): void {
    write(request, reply, PAGE_ACCESS_COOKIE, "", 0);
    write(request, reply, PAGE_REFRESH_COOKIE, "", 0);
  }

  private async authenticate(token: string): Promise<Identity | null> {
    try {
      return await this.authenticator.authenticate({ token, scheme: "Bearer", proof: undefined, target: () => ({ method: "", url: "" }) });
    } catch (error) {
      // Expired, revoked, signed with a retired key: not signed in. A store outage is not a verdict: it propagates (503).
      if (isAuthError(error) && error.code === "UNAUTHENTICATED") return null;
      throw error;
    }
  }
}

export function readCookies(request: FastifyRequest): Record<string, string | undefined> {
  const header = request.headers.cookie;
  return header ? request.server.parseCookie(header) : {};
}

function write(request: FastifyRequest, reply: FastifyReply, name: string, value: string, expiresAt: number): void {
  void reply.header("set-cookie", request.server.serializeCookie(name, value, { httpOnly: true, secure: true, sameSite: "lax", path: PAGE_COOKIE_PATH, expires: new Date(expiresAt) }));
}
