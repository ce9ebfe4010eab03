import "reflect-metadata";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema, type ContainerType } from "type-graphql";
import type { Accounts } from "../auth/accounts";
import type { Audit } from "../auth/audit";
import type { EmailChange } from "../auth/email-change";
import type { EmailVerification } from "../auth/email-verification";
import type { Recovery } from "../auth/recovery";
import type { Sessions } from "../auth/sessions";
import { authChecker } from "./auth-checker";
import { AccountEmailResolver } from "./resolvers/account-email-resolver";
import { AuthResolver } from "./resolvers/auth-resolver";
import { SessionResolver } from "./resolvers/session-resolver";
import { UserResolver } from "./resolvers/user-resolver";

export interface Services {
  readonly accounts: Accounts;
  readonly sessions: Sessions;
  readonly audit?: Audit;
  readonly recovery: Recovery;
  readonly emailVerification: EmailVerification;
  readonly emailChange: EmailChange;
}

const resolvers = [AuthResolver, UserResolver, SessionResolver, AccountEmailResolver] as const;

/** Builds the executable schema; without services it is good for printing only. */
export function buildAuthSchema(services?: Services): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    authChecker,
    validate: { forbidUnknownValues: false, validationError: { target: false, value: false } },
    container: services ? resolverContainer(services) : undefined,
  });
}

/** The SDL committed at schema/schema.graphql: sorted, so it changes only when the API does. */
export function printAuthSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

function resolverContainer({ accounts, sessions, audit, recovery, emailVerification, emailChange }: Services): ContainerType {
  const instances = new Map<unknown, unknown>([
    [AuthResolver, new AuthResolver(accounts, sessions, emailVerification)],
    [AccountEmailResolver, new AccountEmailResolver(recovery, emailVerification, emailChange)],
    [UserResolver, new UserResolver(accounts, audit)],
    [SessionResolver, new SessionResolver(sessions)],
  ]);
  return { get: (resolverClass) => instances.get(resolverClass) };
}
