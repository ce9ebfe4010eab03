export { createAuthClient } from "./client.js";
export type { AuthClient, AuthClientOptions, AuthStateListener, Credentials, FetchInit, RefreshTokenStore } from "./client.js";
export type { User } from "./api.js";
export { refusalReason } from "./api.js";
export { AuthClientError } from "./errors.js";
export type { SessionEvent } from "./live.js";
export type { AuthEvent, AuthEventDetail, AuthState, Session } from "./session-state.js";
export type { ChannelFactory, ChannelLike, FetchLike, LockManagerLike, ResponseLike, SocketFactory, SocketLike } from "./environment.js";
