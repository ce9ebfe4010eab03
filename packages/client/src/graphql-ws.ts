import { SECOND_FACTOR_REASONS } from "./api.js";
import type { AuthClient } from "./client.js";

/** The close event as graphql-ws hands it to `shouldRetry` and `on.closed`. */
interface CloseLike {
  readonly code?: number;
  readonly reason?: string;
}

/**
 * Options for graphql-ws's `createClient` that keep a subscription client signed in with an
 * AuthClient: every (re)connection sends a fresh token (and, for a DPoP-bound session, a proof for
 * GET on `url`: give the socket's URL when it is not the AuthClient's `liveUrl`); after 4403 it
 * reconnects with a refreshed one; 4401 (signed out) is final and signs out every tab.
 *
 * ```ts
 * createClient({ url: "wss://example.com/graphql", ...graphqlWsOptions(auth, { url: "wss://example.com/graphql" }) })
 * ```
 */
export function graphqlWsOptions(client: AuthClient, options: { readonly url?: string } = {}) {
  const closed = (event: unknown): boolean => {
    const { code, reason } = (event ?? {}) as CloseLike;
    if (code === 4401) void client.refused(reason || "TOKEN_REVOKED");
    else if (code === 4403) void client.refused(reason || "TOKEN_EXPIRED");
    // Signed out, or a session that owes a second factor: reconnecting would be refused the same way.
    return code === 4401 || (code === 4403 && SECOND_FACTOR_REASONS.has(reason ?? ""));
  };
  return {
    connectionParams: (): Promise<Record<string, string>> => client.connectionParams(options.url),
    shouldRetry: (event: unknown): boolean => !closed(event) && client.state.status !== "signedOut",
    on: { closed: (event: unknown) => void closed(event) },
  };
}
