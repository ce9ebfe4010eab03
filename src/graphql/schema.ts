import "reflect-metadata";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema, type ContainerType } from "type-graphql";
import type { Accounts } from "../auth/accounts";
import type { Passkeys } from "../auth/passkeys";
import type { Audit } from "../auth/audit";
import type { Sessions } from "../auth/sessions";
import { authChecker } from "./auth-checker";
import { AuthResolver } from "./resolvers/auth-resolver";
import { PasskeyResolver } from "./resolvers/passkey-resolver";
import { SessionResolver } from "./resolvers/session-resolver";
import { UserResolver } from "./resolvers/user-resolver";

export interface Services {
  readonly accounts: Accounts;
  readonly sessions: Sessions;
  readonly audit?: Audit;
  /** Null or absent when PASSKEYS=off. */
  readonly passkeys?: Passkeys | null;
}

const resolvers = [AuthResolver, UserResolver, SessionResolver, PasskeyResolver] as const;

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

function resolverContainer({ accounts, sessions, audit, passkeys }: Services): ContainerType {
  const instances = new Map<unknown, unknown>([
    [AuthResolver, new AuthResolver(accounts, sessions)],
    [UserResolver, new UserResolver(accounts, audit)],
    [SessionResolver, new SessionResolver(sessions)],
    [PasskeyResolver, new PasskeyResolver(passkeys ?? null)],
  ]);
  return { get: (resolverClass) => instances.get(resolverClass) };
}
