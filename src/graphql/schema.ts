import "reflect-metadata";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema, type ContainerType, type PubSub } from "type-graphql";
import type { Accounts } from "../auth/accounts";
import type { Audit } from "../auth/audit";
import type { Sessions } from "../auth/sessions";
import { authChecker } from "./auth-checker";
import { AuthResolver } from "./resolvers/auth-resolver";
import { SessionEventsResolver } from "./resolvers/session-events-resolver";
import { SessionResolver } from "./resolvers/session-resolver";
import { UserResolver } from "./resolvers/user-resolver";

export interface Services {
  readonly accounts: Accounts;
  readonly sessions: Sessions;
  readonly audit?: Audit;
}

const resolvers = [AuthResolver, UserResolver, SessionResolver, SessionEventsResolver] as const;

/** Builds the executable schema; without services it is good for printing only. */
export function buildAuthSchema(services?: Services): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    authChecker,
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

function resolverContainer({ accounts, sessions, audit }: Services): ContainerType {
  const instances = new Map<unknown, unknown>([
    [AuthResolver, new AuthResolver(accounts, sessions)],
    [UserResolver, new UserResolver(accounts, audit)],
    [SessionResolver, new SessionResolver(sessions)],
    [SessionEventsResolver, new SessionEventsResolver()],
  ]);
  return { get: (resolverClass) => instances.get(resolverClass) };
}
