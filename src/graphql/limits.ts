import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from "@apollo/server";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import { GraphQLError, Kind, type ParseOptions, type SelectionSetNode, type ValidationContext, type ValidationRule } from "graphql";
import type { OperationLimits } from "../config";

/** Each of these costs an argon2 hash or a session write; aliasing must not multiply them. */
const CREDENTIAL_FIELDS = new Set([
  "register",
  "login",
  "refresh",
  "changePassword",
  // A password check (argon2), or a code check that counts toward throttling and the lock.
  "reauthenticate",
  // The second factor's: a password check, or a code check that counts toward throttling and the lock.
  "enrollTotp",
  "confirmTotp",
  "verifyMfa",
  "regenerateRecoveryCodes",
  "disableTotp",
  // Passkeys: a signature check that counts toward throttling.
  "loginWithPasskey",
  "registerPasskey",
  // Each hashes a password or sends mail (the mail flows, src/auth/mail-links/recovery.ts and beside it).
  "resetPassword",
  "requestEmailChange",
  "requestPasswordReset",
  "sendVerificationEmail",
]);

/** Root fields that read a list from the store: each may be asked for once per operation. */
const STORE_LIST_FIELDS = new Set(["sessions", "users", "securityEvents", "auditEvents"]);

export interface OperationGuards {
  readonly parseOptions: ParseOptions;
  readonly validationRules: ValidationRule[];
  readonly plugins: ApolloServerPlugin[];
}

/**
 * Bounds on the work one operation can cause, all checked before anything executes: the token
 * count while parsing (graphql-js's own parser limit, so a 64 KB query stops at the first token
 * past it), then graphql-armor's depth, alias, directive and cost rules, the credential-mutation
 * rule and the store-list rule during validation. Field suggestions ("Did you mean …?") are hidden
 * whenever introspection is off, since they would give the schema away.
 */
export function operationGuards(limits: OperationLimits, { introspection }: { introspection: boolean }): OperationGuards {
  const armor = new ApolloArmor({
    // graphql-armor enforces this from an Apollo parsingDidStart hook, where a throw becomes a 500;
    // graphql-js's parser option refuses with a 400 instead (see errors.ts for its message).
    maxTokens: { enabled: false },
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ...rejectAs("MAX_DEPTH") },
    maxAliases: { n: limits.maxAliases, ...rejectAs("MAX_ALIASES") },
    maxDirectives: { n: limits.maxDirectives, ...rejectAs("MAX_DIRECTIVES") },
    costLimit: { maxCost: limits.maxCost, flattenFragments: true, ...rejectAs("MAX_COST") },
    // Its mask catches `Did you mean "x"` only, not `Did you mean the enum value "X"`: hideSuggestions does both.
    blockFieldSuggestion: { enabled: false },
  }).protect();
  return {
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules: [...armor.validationRules, oneCredentialMutation, oneStoreListRead],
    plugins: [...(armor.plugins as ApolloServerPlugin[]), ...(introspection ? [] : [hideSuggestions])],
  };
}

/** graphql-js ends a message with its guess at what was meant: fields, arguments, types, enum values. */
const SUGGESTION = /\s*Did you mean [^]*\?$/;

/** Drops "Did you mean …?" from every error message, so a typo cannot be used to map the schema. */
const suggestionsHidden: GraphQLRequestListener<BaseContext> = {
  async didEncounterErrors({ errors }) {
    for (const error of errors) (error as { message: string }).message = withoutSuggestions(error.message);
  },
};
/** One listener for every request: it keeps no state, so none is made per request. */
const hideSuggestions: ApolloServerPlugin = {
  requestDidStart: () => Promise.resolve(suggestionsHidden),
};

/** The message without its "Did you mean …?"; the WebSocket transport (src/http/live-protocol.ts) applies it too. */
export const withoutSuggestions = (message: string) => message.replace(SUGGESTION, "");

/** Reports armor's refusal as a validation error whose message names the variable that sets the limit. */
type RejectCallback = (context: ValidationContext | null, error: GraphQLError) => void;

function rejectAs(variable: string): { propagateOnRejection: false; onReject: RejectCallback[] } {
  return {
    propagateOnRejection: false,
    onReject: [
      (context, error) => {
        context?.reportError(new GraphQLError(`${error.message.replace(/^Syntax Error: /, "")} (${variable})`));
      },
    ],
  };
}

/**
 * `sessions` and `users` at most once each per operation: aliasing them a thousand times would
 * read the store a thousand times.
 */
const oneStoreListRead: ValidationRule = (context) => ({
  OperationDefinition(operation) {
    for (const field of STORE_LIST_FIELDS) {
      if (countRootFields(operation.selectionSet, context, new Set(), new Set([field])) > 1) {
        context.reportError(new GraphQLError(`${field} may appear at most once per operation (store reads)`, { nodes: operation }));
      }
    }
  },
});

/**
 * At most one credential mutation per request. Mutations run one after another, so without this a
 * 64 KB body could alias `register` hundreds of times and pin the CPU on argon2.
 */
export const oneCredentialMutation: ValidationRule = (context) => ({
  OperationDefinition(operation) {
    if (operation.operation !== "mutation") return;
    const count = countRootFields(operation.selectionSet, context, new Set(), CREDENTIAL_FIELDS);
    if (count > 1) {
      context.reportError(
        new GraphQLError(
          "At most one of register, login, refresh and changePassword (or one second-factor, passkey or mail mutation) may run per request",
          { nodes: operation },
        ),
      );
    }
  },
});

function countRootFields(selectionSet: SelectionSetNode, context: ValidationContext, seen: Set<string>, fields: ReadonlySet<string>): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (fields.has(selection.name.value)) count++;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countRootFields(selection.selectionSet, context, seen, fields);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = context.getFragment(selection.name.value);
      if (fragment) count += countRootFields(fragment.selectionSet, context, seen, fields);
    }
  }
  return count;
}
