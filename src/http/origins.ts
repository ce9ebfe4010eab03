/**
 * Which browser origins may call this API: the API's own, and those listed. A request's Origin
 * header is one of four things, and the transport (CORS on /graphql, the WebSocket upgrade) acts
 * on which.
 *
 * - absent: not a browser, or a browser's same-origin GET; nothing to check.
 * - own: the origin the request was sent to (its Host header), or PUBLIC_URL's.
 * - listed: in the list (CORS_ORIGINS, or LIVE_ALLOWED_ORIGINS for sockets).
 * - foreign: anything else, `null` (a sandboxed frame, a file) included.
 */
export type OriginVerdict = "absent" | "own" | "listed" | "foreign";

export class OriginPolicy {
  constructor(
    private readonly listed: readonly string[],
    /** PUBLIC_URL's origin, for a proxy in front that rewrites Host; null: Host alone says. */
    private readonly publicOrigin: string | null,
  ) {}

  verdict(origin: string | undefined, host: string | undefined): OriginVerdict {
    if (origin === undefined) return "absent";
    if (this.listed.includes(origin)) return "listed";
    if (origin === this.publicOrigin || isSentTo(origin, host)) return "own";
    return "foreign";
  }
}

/**
 * Host alone, not the scheme: TLS usually ends at a proxy in front, so the API sees http where the
 * page says https. A browser always sends the real target as Host, so a page elsewhere cannot pass.
 */
function isSentTo(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
