import "reflect-metadata";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema, type ContainerType } from "type-graphql";
import type { Accounts } from "../auth/accounts";
import type { Audit } from "../auth/audit";
import type { Mfa } from "../auth/mfa";
import type { Sessions } from "../auth/sessions";
import { authChecker, authCheckerFor, type AssurancePolicy } from "./auth-checker";
import { AuthResolver } from "./resolvers/auth-resolver";
import { MfaResolver } from "./resolvers/mfa-resolver";
import { SessionResolver } from "./resolvers/session-resolver";
import { UserResolver } from "./resolvers/user-resolver";

export interface Services {
  readonly accounts: Accounts;
  readonly sessions: Sessions;
  readonly audit?: Audit;
  readonly mfa?: Mfa;
  readonly assurance?: AssurancePolicy;
}

const resolvers = [AuthResolver, UserResolver, SessionResolver, MfaResolver] as const;

/** Builds the executable schema; without services it is good for printing only. */
export function buildAuthSchema(services?: Services): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    authChecker: services?.assurance ? authCheckerFor(services.assurance) : authChecker,
    validate: { forbidUnknownValues: false, validationError: { target: false, value: false } },
    container: services ? resolverContainer(services) : undefined,
  });
}

/** The SDL committed at schema/schema.graphql: sorted, so it changes only when the API does. */
export function printAuthSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

function resolverContainer({ accounts, sessions, audit, mfa }: Services): ContainerType {
  const instances = new Map<unknown, unknown>([
    [AuthResolver, new AuthResolver(accounts, sessions)],
    [UserResolver, new UserResolver(accounts, audit)],
    [SessionResolver, new SessionResolver(sessions)],
    [MfaResolver, mfa ? new MfaResolver(mfa) : undefined],
  ]);
  return { get: (resolverClass) => instances.get(resolverClass) };
}
