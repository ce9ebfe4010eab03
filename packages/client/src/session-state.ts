import type { User } from "./api.js";

/** What a tab knows of the signed-in session. The refresh token is never part of it. */
export interface Session {
  readonly accessToken: string;
  /** When the access token was received and when it expires, both on this machine's clock (ms). */
  readonly receivedAt: number;
  readonly expiresAt: number;
  readonly sessionId: string;
  readonly user: User;
}

/**
 * The states of one tab. `unknown` is a fresh tab: the HttpOnly cookie may hold a session that only
 * a refresh can reveal. `signedOut` remembers the session it ended, so that no late message about
 * that session can bring it back: signed out is final.
 */
export type AuthState =
  | { readonly status: "unknown" }
  | { readonly status: "signedIn"; readonly session: Session }
  | { readonly status: "refreshing"; readonly session: Session | null }
  | { readonly status: "signedOut"; readonly reason: string; readonly endedSessionId: string | null };

export type AuthEvent = "SIGNED_IN" | "TOKEN_REFRESHED" | "SIGNED_OUT";

/** The second argument of an onAuthStateChange listener. */
export interface AuthEventDetail {
  /** Why, for SIGNED_OUT: `SIGNED_OUT`, `SIGNED_OUT_EVERYWHERE`, `NO_SESSION` or the API's reason (`TOKEN_REVOKED`, ...). */
  readonly reason?: string;
  readonly user?: User;
  readonly sessionId?: string;
}

export type Input =
  | { readonly type: "refreshStarted" }
  /** A refresh that failed for a passing cause (network, 503, 429): nothing is decided. */
  | { readonly type: "refreshFailed" }
  | { readonly type: "session"; readonly session: Session }
  | { readonly type: "signedOut"; readonly reason: string };

export interface Step {
  readonly state: AuthState;
  readonly event?: { readonly name: AuthEvent; readonly detail: AuthEventDetail };
}

export const initialState: AuthState = { status: "unknown" };

export function sessionOf(state: AuthState): Session | null {
  return state.status === "signedIn" || state.status === "refreshing" ? state.session : null;
}

/** The whole state machine: signed out → signed in → refreshing → signed in or signed out. */
export function transition(state: AuthState, input: Input): Step {
  const current = sessionOf(state);
  switch (input.type) {
    case "refreshStarted":
      if (state.status === "signedOut" || state.status === "refreshing") return { state };
      return { state: { status: "refreshing", session: current } };
    case "refreshFailed":
      if (state.status !== "refreshing") return { state };
      return { state: current ? { status: "signedIn", session: current } : { status: "unknown" } };
    case "session": {
      const { session } = input;
      if (state.status === "signedOut" && state.endedSessionId === session.sessionId) return { state };
      if (current?.accessToken === session.accessToken) return { state: { status: "signedIn", session } };
      const name = current?.sessionId === session.sessionId ? "TOKEN_REFRESHED" : "SIGNED_IN";
      return { state: { status: "signedIn", session }, event: { name, detail: { user: session.user, sessionId: session.sessionId } } };
    }
    case "signedOut":
      if (state.status === "signedOut") return { state };
      return {
        state: { status: "signedOut", reason: input.reason, endedSessionId: current?.sessionId ?? null },
        event: { name: "SIGNED_OUT", detail: { reason: input.reason, ...(current ? { sessionId: current.sessionId } : {}) } },
      };
  }
}

/**
 * The access token if it is good for more than the margin; the margin is at most half the token's
 * lifetime, so a short-lived token is not refreshed on every call.
 */
export function freshToken(state: AuthState, now: number, marginMs: number): string | null {
  const session = sessionOf(state);
  if (!session) return null;
  const margin = Math.min(marginMs, (session.expiresAt - session.receivedAt) / 2);
  return now < session.expiresAt - margin ? session.accessToken : null;
}
