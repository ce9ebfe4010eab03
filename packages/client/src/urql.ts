import type { AuthConfig, AuthUtilities } from "@urql/exchange-auth";
import { refusalReason } from "./api.js";
import type { AuthClient } from "./client.js";

/**
 * The config function for urql's `authExchange`: the token from the AuthClient on every operation
 * (`Bearer …`, or `DPoP …` for a bound session), a refresh (once, across tabs) before an operation
 * whose token is stale, one retry after `TOKEN_EXPIRED`, and sign-out in every tab after
 * `TOKEN_REVOKED`. urql adds headers synchronously and a proof is signed asynchronously, so a
 * DPoP-bound session also needs the client's `fetch: auth.dpopFetch()`, which signs one per request.
 *
 * ```ts
 * new Client({ url, fetch: auth.dpopFetch(), exchanges: [cacheExchange, authExchange(urqlAuth(auth)), fetchExchange] })
 * ```
 */
export function urqlAuth(client: AuthClient): (utils: AuthUtilities) => Promise<AuthConfig> {
  return async (utils) => {
    await client.getAccessToken().catch(() => null);
    return {
      addAuthToOperation(operation) {
        const authorization = client.currentAuthorization();
        return authorization ? utils.appendHeaders(operation, { Authorization: authorization }) : operation;
      },
      willAuthError: () => client.state.status !== "signedOut" && client.currentAccessToken() === null,
      didAuthError(error, operation) {
        const reason = refusalReason(error.graphQLErrors);
        if (reason === "TOKEN_EXPIRED" || reason === "INVALID_TOKEN") return true;
        // TOKEN_REVOKED: every tab signs out; no retry. The token it sent: a late MFA_REQUIRED for an older one is no news.
        if (reason) void client.refused(reason, sentToken(operation.context.fetchOptions));
        return false;
      },
      async refreshAuth() {
        if (client.currentAccessToken()) await client.refused("TOKEN_EXPIRED");
        await client.getAccessToken().catch(() => null);
      },
    };
  };
}

/** The access token an operation carried, from the Authorization header addAuthToOperation set. */
function sentToken(fetchOptions: RequestInit | (() => RequestInit) | undefined): string | undefined {
  const options = typeof fetchOptions === "function" ? fetchOptions() : fetchOptions;
  return new Headers(options?.headers).get("authorization")?.split(" ")[1];
}
