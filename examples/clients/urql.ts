import { Client, cacheExchange, fetchExchange } from "@urql/core";
import { authExchange } from "@urql/exchange-auth";
import { RefreshDocument, RefreshWithCookieDocument } from "../../schema/generated/graphql";

/** Held in memory only. `refreshToken: null` after a login with `refreshTokenInCookie: true`: the cookie holds it. */
export interface Session {
  accessToken: string | null;
  refreshToken: string | null;
}

/** Sent without a (possibly stale) access token: the server refuses a request whose token fails. */
const PUBLIC = new Set(["Login", "Register", "Refresh", "RefreshWithCookie"]);

export function createApiClient(url: string, session: Session, fetchImpl: typeof fetch = fetch): Client {
  return new Client({
    url, // queries go as GET, urql's default: the Authorization header is what lets them pass CSRF prevention
    fetch: fetchImpl,
    fetchOptions: { credentials: "include" }, // send the refresh cookie, if there is one
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          const name = operation.query.definitions.find((d) => d.kind === "OperationDefinition")?.name?.value;
          if (!session.accessToken || PUBLIC.has(name ?? "")) return operation;
          return utils.appendHeaders(operation, { Authorization: `Bearer ${session.accessToken}` });
        },
        // Only an expired token is worth a refresh; TOKEN_REVOKED and REFRESH_TOKEN_REUSED mean "log in again".
        didAuthError(error) {
          return error.graphQLErrors.some((e) => e.extensions?.reason === "TOKEN_EXPIRED");
        },
        async refreshAuth() {
          const result = session.refreshToken
            ? await utils.mutate(RefreshDocument, { refreshToken: session.refreshToken })
            : await utils.mutate(RefreshWithCookieDocument, {});
          const tokens = result.data?.refresh;
          session.accessToken = tokens?.accessToken ?? null; // null: send the user to the login page
          session.refreshToken = tokens?.refreshToken ?? null;
        },
      })),
      fetchExchange,
    ],
  });
}
