import { Field, ID, InputType, ObjectType } from "type-graphql";
import type { AuthorizedApp as AuthorizedAppRecord } from "../../auth/oauth/grants";
import type { IssuedClientSecret } from "../../auth/oauth/clients";
import type { OAuthClientPage, OAuthClientRecord } from "../../store/store";
import { PageInfo } from "./user-connection";

@ObjectType({ description: "An app registered to sign users in through this API as an OAuth 2.1 / OpenID provider (docs/oauth-provider.md)." })
export class OAuthClient {
  @Field(() => ID)
  clientId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => [String], { description: "Exact redirect URIs: https, or http on a loopback address." })
  redirectUris!: string[];

  @Field(() => [String], { description: "Of authorization_code, refresh_token, client_credentials." })
  grantTypes!: string[];

  @Field(() => [String], { description: "The scopes the client may ask for: openid, email, profile, offline_access, api, and its own resource scopes." })
  scopes!: string[];

  @Field(() => Boolean, { description: "A public client (no secret) must use PKCE with S256 and cannot use client_credentials." })
  public!: boolean;

  @Field(() => String, { nullable: true })
  backchannelLogoutUri!: string | null;

  @Field(() => Boolean, { description: "Sign-ins for this client need a second factor (acr aal2)." })
  requireMfa!: boolean;

  @Field(() => Date)
  createdAt!: Date;

  static from(record: OAuthClientRecord): OAuthClient {
    const { secretHash: _secretHash, createdAt, redirectUris, grantTypes, scopes, ...rest } = record;
    return Object.assign(new OAuthClient(), { ...rest, redirectUris: [...redirectUris], grantTypes: [...grantTypes], scopes: [...scopes], createdAt: new Date(createdAt) });
  }
}

@ObjectType({ description: "A client's id and secret. The secret is shown here once and stored only as a hash; null for a public client." })
export class OAuthClientSecret {
  @Field(() => ID)
  clientId!: string;

  @Field(() => String, { nullable: true })
  clientSecret!: string | null;

  static from(issued: IssuedClientSecret): OAuthClientSecret {
    return Object.assign(new OAuthClientSecret(), issued);
  }
}

@ObjectType({ description: "One page of OAuth clients, ordered by clientId." })
export class OAuthClientConnection {
  @Field(() => [OAuthClient])
  nodes!: OAuthClient[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  static from(page: OAuthClientPage): OAuthClientConnection {
    return Object.assign(new OAuthClientConnection(), {
      nodes: page.clients.map(OAuthClient.from),
      pageInfo: Object.assign(new PageInfo(), { hasNextPage: page.endCursor !== null, endCursor: page.endCursor }),
    });
  }
}

@InputType("OAuthClientInput", { description: "A client's registration (docs/oauth-provider.md#setting-up-a-client)." })
export class OAuthClientInput {
  @Field(() => String)
  name!: string;

  @Field(() => [String])
  redirectUris!: string[];

  @Field(() => [String])
  grantTypes!: string[];

  @Field(() => [String])
  scopes!: string[];

  @Field(() => Boolean, { nullable: true, description: "Default false: a confidential client, with a secret." })
  public?: boolean | null;

  @Field(() => String, { nullable: true })
  backchannelLogoutUri?: string | null;

  @Field(() => Boolean, { nullable: true, description: "Default false." })
  requireMfa?: boolean | null;
}

@ObjectType({ description: "An app the user let sign them in through this API (an OAuth grant)." })
export class AuthorizedApp {
  @Field(() => ID)
  clientId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => [String])
  scopes!: string[];

  @Field(() => Date)
  grantedAt!: Date;

  static from(app: AuthorizedAppRecord): AuthorizedApp {
    return Object.assign(new AuthorizedApp(), { clientId: app.clientId, name: app.name, scopes: [...app.scopes], grantedAt: new Date(app.grantedAt) });
  }
}
