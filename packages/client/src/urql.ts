import type { AuthConfig, AuthUtilities } from "@urql/exchange-auth";
import { refusalReason } from "./api.js";
import type { AuthClient } from "./client.js";

/**
 * The config function for urql's `authExchange`: the bearer token from the AuthClient on every
 * operation, a refresh (once, across tabs) before an operation whose token is stale, one retry after
 * `TOKEN_EXPIRED`, and sign-out in every tab after `TOKEN_REVOKED`.
 *
 * ```ts
 * new Client({ url, exchanges: [cacheExchange, authExchange(urqlAuth(auth)), fetchExchange] })
 * ```
 */
export function urqlAuth(client: AuthClient): (utils: AuthUtilities) => Promise<AuthConfig> {
  return async (utils) => {
    await client.getAccessToken().catch(() => null);
    return {
      addAuthToOperation(operation) {
        const token = client.currentAccessToken();
        return token ? utils.appendHeaders(operation, { Authorization: `Bearer ${token}` }) : operation;
      },
      willAuthError: () => client.state.status !== "signedOut" && client.currentAccessToken() === null,
      didAuthError(error) {
        const reason = refusalReason(error.graphQLErrors);
        if (reason === "TOKEN_EXPIRED" || reason === "INVALID_TOKEN") return true;
        if (reason) void client.refused(reason); // TOKEN_REVOKED: every tab signs out; no retry
        return false;
      },
      async refreshAuth() {
        if (client.currentAccessToken()) await client.refused("TOKEN_EXPIRED");
        await client.getAccessToken().catch(() => null);
      },
    };
  };
}
