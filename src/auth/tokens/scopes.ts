/** The scopes of this API as an OAuth provider, and what a token carrying them may do here (docs/oauth-provider.md#scopes). */

/** OpenID Connect's scopes, which only a user's grant carries. */
export const OPENID_SCOPES = ["openid", "profile", "email", "offline_access"] as const;

/** The scope that lets an access token act at this API's /graphql as its user, ADMIN excepted. */
export const API_SCOPE = "api";

/** The resource scopes of `scopes` (what an access token for JWT_AUDIENCE may carry): all but OpenID's. */
export const resourceScopes = (scopes: readonly string[]) => scopes.filter((scope) => !(OPENID_SCOPES as readonly string[]).includes(scope));

/** The OpenID scopes of `scopes`. */
export const openidScopes = (scopes: readonly string[]) => scopes.filter((scope) => (OPENID_SCOPES as readonly string[]).includes(scope));
