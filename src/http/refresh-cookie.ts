import type { FastifyReply, FastifyRequest } from "fastify";
import type { RefreshCookie } from "../context/context";

export const REFRESH_COOKIE = "refresh_token";
/** Scoped to the GraphQL endpoint: the browser sends it nowhere else. */
export const REFRESH_COOKIE_PATH = "/graphql";

const OPTIONS = { httpOnly: true, secure: true, sameSite: "strict", path: REFRESH_COOKIE_PATH } as const;

/**
 * The refresh cookie of one request, with @fastify/cookie's parser and serializer but none of its
 * per-request hooks: the Cookie header is parsed only when a resolver asks (only `refresh` does).
 */
export function refreshCookie(request: FastifyRequest, reply: FastifyReply): RefreshCookie {
  const { parseCookie, serializeCookie } = request.server;
  const write = (value: string, expires: Date) => void reply.header("set-cookie", serializeCookie(REFRESH_COOKIE, value, { ...OPTIONS, expires }));
  return {
    read: () => {
      const header = request.headers.cookie;
      return header ? parseCookie(header)[REFRESH_COOKIE] || undefined : undefined;
    },
    set: (token, expiresAt) => write(token, new Date(expiresAt)),
    clear: () => write("", new Date(0)),
  };
}
