import { ROLES, type Role } from "./outcomes";

export { isAal, isAmr } from "./assurance";

/**
 * The shape rules for a presented token, shared by the auth API and every verifier so they refuse
 * exactly the same tokens. Nothing here verifies a signature: it decides what is not worth verifying.
 */

/** RFC 9068's media type for access tokens; refresh tokens get their own so neither passes as the other. */
export const ACCESS_TOKEN_TYPE = "at+jwt";
export const REFRESH_TOKEN_TYPE = "rt+jwt";

/** No token the auth API issues comes near this; longer input is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 4096;

/**
 * The longest access-token lifetime (exp - iat, seconds) a verifier accepts when it knows no
 * ACCESS_TOKEN_TTL: a key holder's 10-year token is refused everywhere, not only at the auth API.
 */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600;

/** Slack, in seconds, on an access token's lifetime (exp - iat) over ACCESS_TOKEN_TTL. */
export const LIFETIME_LEEWAY_SECONDS = 60;

/** Three base64url segments: anything else in a bearer header is not a JWT. */
export const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The `Authorization: Bearer <token>` form; the token is group 1. */
export const BEARER_HEADER = /^Bearer +(\S+) *$/i;

/** The header's kid, read before verifying only to pick the key; anything odd reads as no kid. */
export function kidOf(token: string): string | undefined {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf(".")), "base64url").toString("utf8"));
    const kid = (header as { kid?: unknown } | null)?.kid;
    return typeof kid === "string" ? kid : undefined;
  } catch {
    return undefined;
  }
}

/** Header segments remembered by a KidReader; past this many it forgets them all and starts again. */
const KNOWN_HEADERS = 64;

/**
 * kidOf with a memory. Every token one key signs carries the same header segment, so decoding it
 * (base64url, then JSON.parse: about 1.5 µs) on every request repeats the same work. A segment is
 * remembered only once a token carrying it has verified, so the memory holds headers a key
 * holder wrote, never an attacker's, and it is bounded anyway.
 */
export class KidReader {
  private readonly known = new Map<string, string | undefined>();

  read(token: string): string | undefined {
    const header = token.slice(0, token.indexOf("."));
    return this.known.has(header) ? this.known.get(header) : kidOf(token);
  }

  /** After `token`'s signature verified. */
  remember(token: string, kid: string | undefined): void {
    const header = token.slice(0, token.indexOf("."));
    if (this.known.has(header)) return;
    if (this.known.size >= KNOWN_HEADERS) this.known.clear();
    this.known.set(header, kid);
  }
}

/** RFC 7515 §4.1.11: a header that marks extensions critical is refused, since none is understood. */
export const hasCriticalExtensions = (header: object) => "crit" in header;

export const isId = (value: unknown): value is string => typeof value === "string" && value.length > 0 && value.length <= 128;
export const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);
export const isRoleList = (value: unknown): value is Role[] =>
  Array.isArray(value) && value.every((role) => (ROLES as readonly unknown[]).includes(role));
