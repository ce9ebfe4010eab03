import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The browser's half: random, HttpOnly, scoped to the pages. */
export const CSRF_COOKIE = "auth_csrf";
export const CSRF_FIELD = "csrf";

/**
 * CSRF tokens for every form (the synchronizer pattern, stateless): a random value in a cookie,
 * and in each form its HMAC under a server key. A page on another site can neither read the
 * cookie nor compute the HMAC, and a cookie it manages to plant (a sibling subdomain) has no
 * valid token to go with it. The Origin check in pages.ts is the second, independent line.
 */
export class CsrfTokens {
  constructor(private readonly key: Buffer) {}

  /** A new cookie value, for a browser that has none. */
  static newSecret(): string {
    return randomBytes(24).toString("base64url");
  }

  tokenFor(secret: string): string {
    return createHmac("sha256", this.key).update(secret).digest("base64url");
  }

  /** Same time whatever the mismatch: the token is compared as fixed-length digests. */
  matches(secret: string | undefined, token: string | undefined): boolean {
    if (!secret || typeof token !== "string") return false;
    const expected = createHmac("sha256", this.key).update(this.tokenFor(secret)).digest();
    const given = createHmac("sha256", this.key).update(token).digest();
    return timingSafeEqual(expected, given);
  }
}
