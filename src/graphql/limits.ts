import { GraphQLError, Kind, type SelectionSetNode, type ValidationContext, type ValidationRule } from "graphql";

/** Each of these costs an argon2 hash or a session write; aliasing must not multiply them. */
const CREDENTIAL_FIELDS = new Set(["register", "login", "refresh", "changePassword"]);

/**
 * At most one credential mutation per request. Mutations run one after another, so without this a
 * 64 KB body could alias `register` hundreds of times and pin the CPU on argon2.
 */
export const oneCredentialMutation: ValidationRule = (context) => ({
  OperationDefinition(operation) {
    if (operation.operation !== "mutation") return;
    const count = countRootFields(operation.selectionSet, context, new Set());
    if (count > 1) {
      context.reportError(
        new GraphQLError("At most one of register, login, refresh and changePassword may run per request", { nodes: operation }),
      );
    }
  },
});

function countRootFields(selectionSet: SelectionSetNode, context: ValidationContext, seen: Set<string>): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (CREDENTIAL_FIELDS.has(selection.name.value)) count++;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countRootFields(selection.selectionSet, context, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = context.getFragment(selection.name.value);
      if (fragment) count += countRootFields(fragment.selectionSet, context, seen);
    }
  }
  return count;
}
