/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation Register($input: RegisterInput!) {\n  register(input: $input) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Login($input: LoginInput!) {\n  login(input: $input) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Refresh($refreshToken: String!) {\n  refresh(refreshToken: $refreshToken) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Logout {\n  logout\n}\n\nmutation LogoutAll {\n  logoutAll\n}\n\nmutation RefreshWithCookie {\n  refresh {\n    ...AuthPayloadFields\n  }\n}\n\nmutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n}": typeof types.RegisterDocument,
    "fragment UserFields on User {\n  id\n  email\n  roles\n  createdAt\n  disabled\n}\n\nfragment AuthPayloadFields on AuthPayload {\n  accessToken\n  tokenType\n  refreshToken\n  accessTokenExpiresAt\n  refreshTokenExpiresAt\n  sessionId\n  user {\n    ...UserFields\n  }\n}": typeof types.UserFieldsFragmentDoc,
    "query Sessions {\n  sessions {\n    id\n    device\n    createdAt\n    lastUsedAt\n    expiresAt\n    current\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id)\n}\n\nmutation LogoutOthers {\n  logoutOthers\n}\n\nsubscription SessionEvents {\n  sessionEvents {\n    type\n    sessionId\n    device\n    at\n    reason\n  }\n}": typeof types.SessionsDocument,
    "query Me {\n  me {\n    ...UserFields\n  }\n}\n\nquery Users($first: Int, $after: String) {\n  users(first: $first, after: $after) {\n    totalCount\n    edges {\n      cursor\n      node {\n        ...UserFields\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation SetUserDisabled($userId: ID!, $disabled: Boolean!) {\n  setUserDisabled(userId: $userId, disabled: $disabled) {\n    ...UserFields\n  }\n}\n\nmutation RevokeUserSessions($userId: ID!) {\n  revokeUserSessions(userId: $userId)\n}\n\nmutation SetUserRoles($userId: ID!, $roles: [Role!]!) {\n  setUserRoles(userId: $userId, roles: $roles) {\n    ...UserFields\n  }\n}": typeof types.MeDocument,
};
const documents: Documents = {
    "mutation Register($input: RegisterInput!) {\n  register(input: $input) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Login($input: LoginInput!) {\n  login(input: $input) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Refresh($refreshToken: String!) {\n  refresh(refreshToken: $refreshToken) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Logout {\n  logout\n}\n\nmutation LogoutAll {\n  logoutAll\n}\n\nmutation RefreshWithCookie {\n  refresh {\n    ...AuthPayloadFields\n  }\n}\n\nmutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n}": types.RegisterDocument,
    "fragment UserFields on User {\n  id\n  email\n  roles\n  createdAt\n  disabled\n}\n\nfragment AuthPayloadFields on AuthPayload {\n  accessToken\n  tokenType\n  refreshToken\n  accessTokenExpiresAt\n  refreshTokenExpiresAt\n  sessionId\n  user {\n    ...UserFields\n  }\n}": types.UserFieldsFragmentDoc,
    "query Sessions {\n  sessions {\n    id\n    device\n    createdAt\n    lastUsedAt\n    expiresAt\n    current\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id)\n}\n\nmutation LogoutOthers {\n  logoutOthers\n}\n\nsubscription SessionEvents {\n  sessionEvents {\n    type\n    sessionId\n    device\n    at\n    reason\n  }\n}": types.SessionsDocument,
    "query Me {\n  me {\n    ...UserFields\n  }\n}\n\nquery Users($first: Int, $after: String) {\n  users(first: $first, after: $after) {\n    totalCount\n    edges {\n      cursor\n      node {\n        ...UserFields\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation SetUserDisabled($userId: ID!, $disabled: Boolean!) {\n  setUserDisabled(userId: $userId, disabled: $disabled) {\n    ...UserFields\n  }\n}\n\nmutation RevokeUserSessions($userId: ID!) {\n  revokeUserSessions(userId: $userId)\n}\n\nmutation SetUserRoles($userId: ID!, $roles: [Role!]!) {\n  setUserRoles(userId: $userId, roles: $roles) {\n    ...UserFields\n  }\n}": types.MeDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Register($input: RegisterInput!) {\n  register(input: $input) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Login($input: LoginInput!) {\n  login(input: $input) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Refresh($refreshToken: String!) {\n  refresh(refreshToken: $refreshToken) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Logout {\n  logout\n}\n\nmutation LogoutAll {\n  logoutAll\n}\n\nmutation RefreshWithCookie {\n  refresh {\n    ...AuthPayloadFields\n  }\n}\n\nmutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n}"): (typeof documents)["mutation Register($input: RegisterInput!) {\n  register(input: $input) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Login($input: LoginInput!) {\n  login(input: $input) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Refresh($refreshToken: String!) {\n  refresh(refreshToken: $refreshToken) {\n    ...AuthPayloadFields\n  }\n}\n\nmutation Logout {\n  logout\n}\n\nmutation LogoutAll {\n  logoutAll\n}\n\nmutation RefreshWithCookie {\n  refresh {\n    ...AuthPayloadFields\n  }\n}\n\nmutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment UserFields on User {\n  id\n  email\n  roles\n  createdAt\n  disabled\n}\n\nfragment AuthPayloadFields on AuthPayload {\n  accessToken\n  tokenType\n  refreshToken\n  accessTokenExpiresAt\n  refreshTokenExpiresAt\n  sessionId\n  user {\n    ...UserFields\n  }\n}"): (typeof documents)["fragment UserFields on User {\n  id\n  email\n  roles\n  createdAt\n  disabled\n}\n\nfragment AuthPayloadFields on AuthPayload {\n  accessToken\n  tokenType\n  refreshToken\n  accessTokenExpiresAt\n  refreshTokenExpiresAt\n  sessionId\n  user {\n    ...UserFields\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Sessions {\n  sessions {\n    id\n    device\n    createdAt\n    lastUsedAt\n    expiresAt\n    current\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id)\n}\n\nmutation LogoutOthers {\n  logoutOthers\n}\n\nsubscription SessionEvents {\n  sessionEvents {\n    type\n    sessionId\n    device\n    at\n    reason\n  }\n}"): (typeof documents)["query Sessions {\n  sessions {\n    id\n    device\n    createdAt\n    lastUsedAt\n    expiresAt\n    current\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id)\n}\n\nmutation LogoutOthers {\n  logoutOthers\n}\n\nsubscription SessionEvents {\n  sessionEvents {\n    type\n    sessionId\n    device\n    at\n    reason\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Me {\n  me {\n    ...UserFields\n  }\n}\n\nquery Users($first: Int, $after: String) {\n  users(first: $first, after: $after) {\n    totalCount\n    edges {\n      cursor\n      node {\n        ...UserFields\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation SetUserDisabled($userId: ID!, $disabled: Boolean!) {\n  setUserDisabled(userId: $userId, disabled: $disabled) {\n    ...UserFields\n  }\n}\n\nmutation RevokeUserSessions($userId: ID!) {\n  revokeUserSessions(userId: $userId)\n}\n\nmutation SetUserRoles($userId: ID!, $roles: [Role!]!) {\n  setUserRoles(userId: $userId, roles: $roles) {\n    ...UserFields\n  }\n}"): (typeof documents)["query Me {\n  me {\n    ...UserFields\n  }\n}\n\nquery Users($first: Int, $after: String) {\n  users(first: $first, after: $after) {\n    totalCount\n    edges {\n      cursor\n      node {\n        ...UserFields\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}\n\nmutation SetUserDisabled($userId: ID!, $disabled: Boolean!) {\n  setUserDisabled(userId: $userId, disabled: $disabled) {\n    ...UserFields\n  }\n}\n\nmutation RevokeUserSessions($userId: ID!) {\n  revokeUserSessions(userId: $userId)\n}\n\nmutation SetUserRoles($userId: ID!, $roles: [Role!]!) {\n  setUserRoles(userId: $userId, roles: $roles) {\n    ...UserFields\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;