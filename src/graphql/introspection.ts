import { GraphQLError, type ValidationRule } from "graphql";

/**
 * Refuses `__schema` and `__type` (not `__typename`) while the explorer is off, the way Apollo's
 * own rule does, but with a message that names the switch that turns it on.
 */
export const introspectionOff: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value !== "__schema" && node.name.value !== "__type") return;
    context.reportError(
      new GraphQLError("GraphQL introspection is not allowed: the explorer is off on this server. Start it with EXPLORER=on to allow introspection and the explorer.", {
        nodes: [node],
      }),
    );
  },
});
