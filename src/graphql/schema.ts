import "reflect-metadata";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema, type ContainerType, type PubSub } from "type-graphql";
import type { Accounts } from "../auth/accounts/accounts";
import type { Passkeys } from "../auth/passkeys/passkeys";
import type { AuditTrail } from "../auth/audit/audit-trail";
import type { Federation } from "../auth/federation/federation";
import type { EmailChange } from "../auth/mail-links/email-change";
import type { EmailVerification } from "../auth/mail-links/email-verification";
import type { Mfa } from "../auth/mfa/mfa";
import type { OAuthClients } from "../auth/oauth/clients";
import type { OAuthGrants } from "../auth/oauth/grants";
import type { Reauthentication } from "../auth/mfa/reauthentication";
import type { Recovery } from "../auth/mail-links/recovery";
import type { Sessions } from "../auth/sessions/sessions";
import { authChecker, authCheckerFor, type AssurancePolicy } from "./rules/auth-checker";
import { AccountEmailResolver } from "./resolvers/account-email-resolver";
import { AuditResolver } from "./resolvers/audit-resolver";
import { AuthResolver } from "./resolvers/auth-resolver";
import { FederationResolver, UserIdentitiesResolver } from "./resolvers/federation-resolver";
import { MfaResolver } from "./resolvers/mfa-resolver";
import { OAuthClientResolver, UserAuthorizedAppsResolver } from "./resolvers/oauth-resolver";
import { SessionEventsResolver } from "./resolvers/session-events-resolver";
import { PasskeyResolver } from "./resolvers/passkey-resolver";
import { ReauthenticationResolver } from "./resolvers/reauthentication-resolver";
import { SessionResolver } from "./resolvers/session-resolver";
import { UserResolver } from "./resolvers/user-resolver";

export interface Services {
  readonly accounts: Accounts;
  readonly sessions: Sessions;
  readonly auditTrail: AuditTrail;
  readonly mfa?: Mfa;
  readonly reauthentication?: Reauthentication;
  readonly assurance?: AssurancePolicy;
  /** Null or absent when PASSKEYS=off. */
  readonly passkeys?: Passkeys | null;
  readonly recovery: Recovery;
  readonly emailVerification: EmailVerification;
  readonly emailChange: EmailChange;
  /** Provider sign-in; absent: no providers (signInProviders is empty). */
  readonly federation?: Federation | null;
  /** The OAuth provider's clients and grants (administered even while OAUTH_PROVIDER is off). */
  readonly oauthClients: OAuthClients;
  readonly oauthGrants: OAuthGrants;
}

const resolvers = [AuthResolver, UserResolver, SessionResolver, SessionEventsResolver, AuditResolver, MfaResolver, ReauthenticationResolver, PasskeyResolver, AccountEmailResolver, FederationResolver, UserIdentitiesResolver, OAuthClientResolver, UserAuthorizedAppsResolver] as const;

/** Builds the executable schema; without services it is good for printing only. */
export function buildAuthSchema(services?: Services): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    authChecker: services?.assurance ? authCheckerFor(services.assurance) : authChecker,
    validate: { forbidUnknownValues: false, validationError: { target: false, value: false } },
    container: services ? resolverContainer(services) : undefined,
    pubSub: noTopics,
  });
}

/**
 * type-graphql wants a PubSub for any @Subscription, though ours each bring their own source
 * (`subscribe`, fed by src/live): topics are never used.
 */
const noTopics: PubSub = {
  publish: () => undefined,
  subscribe: () => {
    throw new Error("subscriptions here have their own source; topics are not used");
  },
};

/** The SDL committed at schema/schema.graphql: sorted, so it changes only when the API does. */
export function printAuthSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

function resolverContainer({ accounts, sessions, auditTrail, mfa, reauthentication, passkeys, recovery, emailVerification, emailChange, federation, oauthClients, oauthGrants }: Services): ContainerType {
  const instances = new Map<unknown, unknown>([
    [AuthResolver, new AuthResolver(accounts, sessions, emailVerification)],
    [AccountEmailResolver, new AccountEmailResolver(recovery, emailVerification, emailChange)],
    [UserResolver, new UserResolver(accounts)],
    [OAuthClientResolver, new OAuthClientResolver(oauthClients, oauthGrants)],
    [UserAuthorizedAppsResolver, new UserAuthorizedAppsResolver(oauthGrants)],
    [SessionEventsResolver, new SessionEventsResolver()],
    [SessionResolver, new SessionResolver(sessions)],
    [AuditResolver, new AuditResolver(auditTrail)],
    [MfaResolver, mfa ? new MfaResolver(mfa) : undefined],
    [ReauthenticationResolver, reauthentication ? new ReauthenticationResolver(reauthentication) : undefined],
    [PasskeyResolver, new PasskeyResolver(passkeys ?? null)],
    [FederationResolver, new FederationResolver(federation ?? null)],
    [UserIdentitiesResolver, new UserIdentitiesResolver(federation ?? null)],
  ]);
  return { get: (resolverClass) => instances.get(resolverClass) };
}
