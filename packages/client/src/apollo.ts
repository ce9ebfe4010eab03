import { ApolloLink } from "@apollo/client";
import { from, mergeMap, type Observable } from "rxjs";
import { refusalReason } from "./api.js";
import type { AuthClient } from "./client.js";

/**
 * An Apollo Client link that adds the AuthClient's token (refreshed once, across tabs, when
 * needed) and, for a DPoP-bound session, a fresh proof for POST on `url` (default: the AuthClient's
 * `url`; give the HttpLink's `uri` when it differs); retries once after `TOKEN_EXPIRED`, and signs
 * out every tab after `TOKEN_REVOKED`. Put it before the HttpLink.
 *
 * ```ts
 * new ApolloClient({ link: authLink(auth).concat(new HttpLink({ uri })), cache: new InMemoryCache() })
 * ```
 */
export function authLink(client: AuthClient, options: { readonly url?: string } = {}): ApolloLink {
  return new ApolloLink((operation, forward) => {
    const attempt = (retried: boolean): Observable<ApolloLink.Result> =>
      from(client.authorize(options.url, "POST").catch(() => ({}))).pipe(
        mergeMap((authorization) => {
          operation.setContext(({ headers }: { headers?: Record<string, string> }) => ({
            headers: { ...headers, ...authorization },
          }));
          return forward(operation);
        }),
        mergeMap((result) => {
          const reason = refusalReason(result.errors as { extensions?: Record<string, unknown> }[] | undefined);
          if (!reason) return [result];
          return from(client.refused(reason)).pipe(mergeMap((retry) => (retry && !retried ? attempt(true) : [result])));
        }),
      );
    return attempt(false);
  });
}
