import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { OAuthClients } from "../../auth/oauth/clients";
import { OAUTH_CLIENTS_PAGE_MAX } from "../../auth/oauth/clients";
import type { OAuthGrants } from "../../auth/oauth/grants";
import type { RequestContext } from "../../context/context";
import { AuthError } from "../../errors";
import { AuthorizedApp, OAuthClient, OAuthClientConnection, OAuthClientInput, OAuthClientSecret } from "../types/oauth";
import { User } from "../types/user";
import { signedIn } from "./identity";

/** The OAuth provider's clients (ADMIN) and the caller's authorized apps (docs/oauth-provider.md). */
@Resolver(() => OAuthClient)
export class OAuthClientResolver {
  constructor(
    private readonly clients: OAuthClients,
    private readonly grants: OAuthGrants,
  ) {}

  @Authorized("ADMIN")
  @Query(() => OAuthClientConnection, { description: `The registered OAuth clients by clientId, first from 1 to ${OAUTH_CLIENTS_PAGE_MAX}, after an endCursor. ADMIN only.` })
  async oauthClients(@Arg("first", () => Int, { defaultValue: 50 }) first: number, @Arg("after", () => String, { nullable: true }) after: string | null): Promise<OAuthClientConnection> {
    return OAuthClientConnection.from(await this.clients.list(first, after ?? null));
  }

  @Authorized("ADMIN")
  @Mutation(() => OAuthClientSecret, { description: "Registers an OAuth client; its secret is shown here once (null for a public client). ADMIN only." })
  async createOAuthClient(@Arg("input", () => OAuthClientInput) input: OAuthClientInput, @Ctx() context: RequestContext): Promise<OAuthClientSecret> {
    return OAuthClientSecret.from(await this.clients.create(signedIn(context), input, context));
  }

  @Authorized("ADMIN")
  @Mutation(() => OAuthClient, { description: "Replaces a client's registration (not public); its secret and grants stay. NOT_FOUND OAUTH_CLIENT_NOT_FOUND. ADMIN only." })
  async updateOAuthClient(@Arg("clientId", () => ID) clientId: string, @Arg("input", () => OAuthClientInput) input: OAuthClientInput, @Ctx() context: RequestContext): Promise<OAuthClient> {
    return OAuthClient.from(await this.clients.update(signedIn(context), clientId, input, context));
  }

  @Authorized("ADMIN")
  @Mutation(() => OAuthClientSecret, { description: "A new secret for a confidential client, shown once; the old one stops working at once. ADMIN only." })
  async rotateOAuthClientSecret(@Arg("clientId", () => ID) clientId: string, @Ctx() context: RequestContext): Promise<OAuthClientSecret> {
    return OAuthClientSecret.from(await this.clients.rotateSecret(signedIn(context), clientId, context));
  }

  @Authorized("ADMIN")
  @Mutation(() => Boolean, { description: "Deletes a client and ends its grants: refresh tokens at once, access tokens at the next check. ADMIN only." })
  deleteOAuthClient(@Arg("clientId", () => ID) clientId: string, @Ctx() context: RequestContext): Promise<boolean> {
    return this.clients.delete(signedIn(context), clientId, (grantId) => this.grants.end(grantId, "client_deleted", context), context);
  }

  @Authorized()
  @Mutation(() => Boolean, { description: "Ends every grant the caller gave the app: its refresh tokens at once, its access tokens at the next check. False when there was none." })
  revokeAppAccess(@Arg("clientId", () => ID) clientId: string, @Ctx() context: RequestContext): Promise<boolean> {
    return this.grants.revokeApp(signedIn(context).userId, clientId, context);
  }
}

@Resolver(() => User)
export class UserAuthorizedAppsResolver {
  constructor(private readonly grants: OAuthGrants) {}

  @FieldResolver(() => [AuthorizedApp], { description: "The apps this user let sign them in through this API (OAuth grants), one per app. The caller's own, or any user's for an ADMIN." })
  async authorizedApps(@Root() user: User, @Ctx() context: RequestContext): Promise<AuthorizedApp[]> {
    const caller = signedIn(context);
    if (caller.userId !== user.id && !caller.roles.includes("ADMIN")) throw new AuthError("FORBIDDEN", "MISSING_ROLE", "Only an ADMIN reads another user's apps");
    return (await this.grants.authorizedApps(user.id)).map(AuthorizedApp.from);
  }
}
