/**
 * Every failure the client reports: the API's `extensions.code` and `extensions.reason` when the API
 * answered, or `NETWORK_ERROR` when it could not be reached. `status` is the HTTP status, if any.
 */
export class AuthClientError extends Error {
  constructor(
    readonly code: string,
    readonly reason: string,
    message: string,
    readonly status?: number,
    /** From Retry-After on a 429 (`LOGIN_THROTTLED`, `REGISTER_THROTTLED`). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "AuthClientError";
  }
}

/**
 * Refusals that end a session for good: a refresh that answers one of these will never succeed, so
 * the client signs out instead of trying again (no refresh loop on a revoked session).
 */
export function endsSession(error: unknown): error is AuthClientError {
  return error instanceof AuthClientError && error.code === "UNAUTHENTICATED";
}
