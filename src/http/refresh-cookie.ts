import { parse } from "cookie";
import type { Request, Response } from "express";

export const REFRESH_COOKIE = "refresh_token";
/** Scoped to the GraphQL endpoint: the browser sends it nowhere else. */
export const REFRESH_COOKIE_PATH = "/graphql";

/**
 * The opt-in home of a browser client's refresh token: HttpOnly (page script never sees it),
 * Secure, SameSite=Strict (never sent cross-site, so it cannot ride a forged request).
 */
export interface RefreshCookie {
  read(): string | undefined;
  set(token: string, expiresAt: number): void;
  clear(): void;
}

export function refreshCookie(req: Request, res: Response): RefreshCookie {
  const options = { httpOnly: true, secure: true, sameSite: "strict", path: REFRESH_COOKIE_PATH } as const;
  return {
    read: () => (req.headers.cookie ? parse(req.headers.cookie)[REFRESH_COOKIE] || undefined : undefined),
    set: (token, expiresAt) => res.cookie(REFRESH_COOKIE, token, { ...options, expires: new Date(expiresAt) }),
    clear: () => res.clearCookie(REFRESH_COOKIE, options),
  };
}
