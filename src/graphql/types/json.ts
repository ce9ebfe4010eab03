import { GraphQLScalarType, valueFromASTUntyped } from "graphql";

/**
 * Any JSON value, as the audit trail's `details` are. Ours, a few lines, rather than graphql-scalars'
 * GraphQLJSON: that package is loaded whole at start-up for one scalar.
 */
export const JSONScalar = new GraphQLScalarType({
  name: "JSON",
  description: "Any JSON value.",
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});
