import type { FastifyReply, FastifyRequest } from "fastify";
import type { BrowserOrigins } from "../config";
import type { RefreshCookie } from "../context/context";

export const REFRESH_COOKIE = "refresh_token";
/** Scoped to the GraphQL endpoint: the browser sends it nowhere else. */
export const REFRESH_COOKIE_PATH = "/graphql";

export type SameSite = BrowserOrigins["refreshCookieSameSite"];

/**
 * The refresh cookie of one request, with @fastify/cookie's parser and serializer but none of its
 * per-request hooks: the Cookie header is parsed only when a resolver asks (only `refresh` does).
 * A class rather than closures: one is made for every request, and most never use it.
 */
class RequestRefreshCookie implements RefreshCookie {
  constructor(
    private readonly request: FastifyRequest,
    private readonly reply: FastifyReply,
    private readonly sameSite: SameSite,
  ) {}

  read(): string | undefined {
    const header = this.request.headers.cookie;
    return header ? this.request.server.parseCookie(header)[REFRESH_COOKIE] || undefined : undefined;
  }

  set(token: string, expiresAt: number): void {
    this.write(token, new Date(expiresAt));
  }

  clear(): void {
    this.write("", new Date(0));
  }

  private write(value: string, expires: Date): void {
    this.reply.header("set-cookie", this.request.server.serializeCookie(REFRESH_COOKIE, value, {
        // Always Secure, whatever SameSite: with None that is all that keeps it off plain http.
        httpOnly: true,
        secure: true,
        sameSite: this.sameSite,
        path: REFRESH_COOKIE_PATH,
        expires,
      }));
  }
}

/** REFRESH_COOKIE_SAMESITE: strict unless the pages are on another site (docs/clients.md#a-spa-on-another-origin). */
export function refreshCookie(request: FastifyRequest, reply: FastifyReply, sameSite: SameSite): RefreshCookie {
  return new RequestRefreshCookie(request, reply, sameSite);
}
