/**
 * ALLOWED_REDIRECT_URLS: where a provider sign-in may send the browser back. An entry ending in `*`
 * allows its origin with the prefix before the `*` and any path below it (whole segments); any other entry allows exactly
 * its origin and path. A query is allowed (the app's own state); credentials and fragments are not.
 * Compared after URL parsing, so `..`, case in the host and default ports cannot sneak past.
 */
export function allowedRedirect(candidate: string, allowed: readonly string[]): URL | null {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username !== "" || url.password !== "" || url.hash !== "") return null;
  for (const entry of allowed) {
    const prefix = entry.endsWith("*");
    const base = new URL(prefix ? entry.slice(0, -1) : entry);
    if (base.origin !== url.origin) continue;
    if (prefix ? underPath(url.pathname, base.pathname) : url.pathname === base.pathname) return url;
  }
  return null;
}

/** `path` is `prefix` or lies below it, whole segments only: `/app*` allows `/app/x`, never `/app-evil`. */
function underPath(path: string, prefix: string): boolean {
  if (prefix.endsWith("/")) return path.startsWith(prefix);
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** The failure page: `redirect_to` with `error=<CODE>` added to its query. */
export function withError(redirectTo: string, code: string): string {
  const url = new URL(redirectTo);
  url.searchParams.set("error", code);
  return url.href;
}
