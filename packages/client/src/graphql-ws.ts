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
 * reconnects with a refreshed one, and after 4403 `INVALID_DPOP_PROOF` (a stale server nonce,
 * `DPOP_NONCE=on`: a socket cannot be sent a new one) it first fetches a fresh nonce over HTTP; 4401
 * (signed out) is final and signs out every tab.
 *
 * ```ts
 * createClient({ url: "wss://example.com/graphql", ...graphqlWsOptions(auth, { url: "wss://example.com/graphql" }) })
 * ```
 */
export function graphqlWsOptions(client: AuthClient, options: { readonly url?: string } = {}) {
  /** The token of the last connection_init, so that a refusal of an older one changes nothing. */
  let sent: string | undefined;
  let staleNonce = false;
  const closed = (event: unknown): boolean => {
    const { code, reason } = (event ?? {}) as CloseLike;
    if (code === 4403 && reason === "INVALID_DPOP_PROOF") staleNonce = true;
    if (code === 4401) void client.refused(reason || "TOKEN_REVOKED", sent);
    else if (code === 4403) void client.refused(reason || "TOKEN_EXPIRED", sent);
    // Signed out, or a session that owes a second factor: reconnecting would be refused the same way.
    return code === 4401 || (code === 4403 && SECOND_FACTOR_REASONS.has(reason ?? "") && (sent === undefined || sent === heldToken(client)));
  };
  return {
    async connectionParams(): Promise<Record<string, string>> {
      // Any API request answers a stale nonce with the current one (and the client keeps it).
      if (staleNonce) await client.request("{ __typename }").catch(() => null);
      staleNonce = false;
      const params = await client.connectionParams(options.url);
      sent = params.authorization?.split(" ")[1];
      return params;
    },
    shouldRetry: (event: unknown): boolean => !closed(event) && client.state.status !== "signedOut",
    on: { closed: (event: unknown) => void closed(event) },
  };
}

function heldToken(client: AuthClient): string | undefined {
  const { state } = client;
  return "session" in state ? state.session?.accessToken : undefined;
}
