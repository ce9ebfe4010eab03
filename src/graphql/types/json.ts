/**
 * Any JSON value: the audit trail's `details` and the passkey ceremonies' options and responses.
 * graphql-scalars' GraphQLJSON, the one the issue contract names, so the schema has one `JSON`.
 */
export { GraphQLJSON as JSONScalar } from "graphql-scalars";
