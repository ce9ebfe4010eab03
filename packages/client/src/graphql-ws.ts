import type { AuthClient } from "./client.js";

/** The close event as graphql-ws hands it to `shouldRetry` and `on.closed`. */
interface CloseLike {
  readonly code?: number;
  readonly reason?: string;
}

/**
 * Options for graphql-ws's `createClient` that keep a subscription client signed in with an
 * AuthClient: every (re)connection sends a fresh token; after 4403 it reconnects with a refreshed
 * one; 4401 (signed out) is final and signs out every tab.
 *
 * ```ts
 * createClient({ url: "wss://example.com/graphql", ...graphqlWsOptions(auth) })
 * ```
 */
export function graphqlWsOptions(client: AuthClient) {
  const closed = (event: unknown): boolean => {
    const { code, reason } = (event ?? {}) as CloseLike;
    if (code === 4401) void client.refused(reason || "TOKEN_REVOKED");
    else if (code === 4403) void client.refused(reason || "TOKEN_EXPIRED");
    return code === 4401;
  };
  return {
    connectionParams: async (): Promise<Record<string, string>> => {
      const token = await client.getAccessToken();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    shouldRetry: (event: unknown): boolean => !closed(event) && client.state.status !== "signedOut",
    on: { closed: (event: unknown) => void closed(event) },
  };
}
