export { createAuthClient } from "./client.js";
export type { AuthClient, AuthClientOptions, AuthStateListener, Credentials, FetchInit, PasskeySignIn, Reauthentication, RefreshTokenStore, SignInResult } from "./client.js";
export type { Passkey, User } from "./api.js";
export type { DpopKeys, IdbFactoryLike } from "./dpop.js";
export { refusalReason } from "./api.js";
export { AuthClientError } from "./errors.js";
export type { SessionEvent } from "./live.js";
export type { AuthEvent, AuthEventDetail, AuthState, SecondFactor, Session } from "./session-state.js";
export type { ChannelFactory, ChannelLike, FetchLike, LockManagerLike, ResponseLike, SocketFactory, SocketLike } from "./environment.js";
