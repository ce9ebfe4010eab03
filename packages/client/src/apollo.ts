import { ApolloLink } from "@apollo/client";
import { catchError, from, mergeMap, throwError, type Observable } from "rxjs";
import { refusalReason } from "./api.js";
import type { AuthClient } from "./client.js";

type Challenged = Parameters<AuthClient["dpopChallenge"]>[1];
/** A marker, by identity: the API asked for its nonce (use_dpop_nonce) in a ServerError. */
const SIGN_AGAIN: ApolloLink.Result = {};

/**
 * An Apollo Client link that adds the AuthClient's token (refreshed once, across tabs, when
 * needed) and, for a DPoP-bound session, a fresh proof for POST on `url` (default: the AuthClient's
 * `url`; give the HttpLink's `uri` when it differs); signs again once with the API's nonce when it
 * asks (`use_dpop_nonce`, `DPOP_NONCE=on`), retries once after `TOKEN_EXPIRED`, and signs out
 * every tab after `TOKEN_REVOKED`. Put it before the HttpLink.
 *
 * ```ts
 * new ApolloClient({ link: authLink(auth).concat(new HttpLink({ uri })), cache: new InMemoryCache() })
 * ```
 */
export function authLink(client: AuthClient, options: { readonly url?: string } = {}): ApolloLink {
  return new ApolloLink((operation, forward) => {
    /** The HttpLink puts its fetch Response in the context: its DPoP-Nonce and challenge are for us. */
    const challenged = (response: unknown): boolean => response !== undefined && response !== null && client.dpopChallenge(options.url, response as Challenged);
    const attempt = (retried: boolean, nonceRetried: boolean): Observable<ApolloLink.Result> =>
      from(client.authorize(options.url, "POST").catch(() => ({}) as Record<string, string>)).pipe(
        mergeMap((authorization) => {
          operation.setContext(({ headers }: { headers?: Record<string, string> }) => ({
            headers: { ...headers, ...authorization },
          }));
          const token = authorization.authorization?.split(" ")[1];
          return forward(operation).pipe(
            // An HttpLink answer that is not GraphQL's media type comes as a ServerError with the response.
            catchError((error: { response?: unknown }) => (!nonceRetried && challenged(error?.response) ? [SIGN_AGAIN] : throwError(() => error))),
            mergeMap((result) => {
              if (result === SIGN_AGAIN || (!nonceRetried && challenged(operation.getContext().response))) return attempt(retried, true);
              const reason = refusalReason(result.errors as { extensions?: Record<string, unknown> }[] | undefined);
              if (!reason) return [result];
              return from(client.refused(reason, token)).pipe(mergeMap((retry) => (retry && !retried ? attempt(true, nonceRetried) : [result])));
            }),
          );
        }),
      );
    return attempt(false, false);
  });
}
