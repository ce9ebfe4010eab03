import type { User } from "./api.js";

/** What a tab knows of the signed-in session. The refresh token is never part of it. */
export interface Session {
  readonly accessToken: string;
  /** When the access token was received and when it expires, both on this machine's clock (ms). */
  readonly receivedAt: number;
  readonly expiresAt: number;
  readonly sessionId: string;
  readonly user: User;
  /** `"Bearer"`, or `"DPoP"`: the tokens are bound to this client's key and each request carries a proof. */
  readonly tokenType: string;
  /** What the session owes before it is signed in fully: a second factor, or enrolling one; else null. */
  readonly secondFactor: SecondFactor | null;
}

/** A second factor to verify (`verifyMfa`), or, for a role of MFA_REQUIRED_FOR_ROLES, to enrol. */
export type SecondFactor = "MFA_REQUIRED" | "MFA_ENROLLMENT_REQUIRED";

/**
 * The states of one tab. `unknown` is a fresh tab: the HttpOnly cookie may hold a session that only
 * a refresh can reveal. `mfaRequired` holds an aal1 session that waits for `verifyMfa`, and
 * `mfaEnrollmentRequired` one whose role needs a second factor it has not enrolled: both are
 * sessions the API still answers (`me`, `logout`, `verifyMfa`, enrolling), never reasons to retry
 * or to sign out. `signedOut` remembers the session it ended, so that no late message about that
 * session can bring it back: signed out is final.
 */
export type AuthState =
  | { readonly status: "unknown" }
  | { readonly status: "signedIn"; readonly session: Session }
  | { readonly status: "mfaRequired"; readonly session: Session }
  | { readonly status: "mfaEnrollmentRequired"; readonly session: Session }
  | { readonly status: "refreshing"; readonly session: Session | null }
  | { readonly status: "signedOut"; readonly reason: string; readonly endedSessionId: string | null };

export type AuthEvent = "SIGNED_IN" | "TOKEN_REFRESHED" | "SIGNED_OUT" | SecondFactor;

/** The second argument of an onAuthStateChange listener. */
export interface AuthEventDetail {
  /** Why, for SIGNED_OUT: `SIGNED_OUT`, `SIGNED_OUT_EVERYWHERE`, `NO_SESSION` or the API's reason (`TOKEN_REVOKED`, ...). */
  readonly reason?: string;
  readonly user?: User;
  readonly sessionId?: string;
  /**
   * For SIGNED_IN, TOKEN_REFRESHED and the second-factor events: `"DPoP"` when the tokens are bound
   * to this client's key, `"Bearer"` when they are not (the API has DPOP=off, or the key did not load).
   */
  readonly tokenType?: string;
}

export type Input =
  | { readonly type: "refreshStarted" }
  /** A refresh that failed for a passing cause (network, 503, 429): nothing is decided. */
  | { readonly type: "refreshFailed" }
  | { readonly type: "session"; readonly session: Session }
  /**
   * The API refused the access token `accessToken` with MFA_REQUIRED or MFA_ENROLLMENT_REQUIRED.
   * A refusal of any other token is about a session state this tab has left (verifyMfa answered).
   */
  | { readonly type: "secondFactor"; readonly reason: SecondFactor; readonly accessToken?: string }
  | { readonly type: "signedOut"; readonly reason: string };

export interface Step {
  readonly state: AuthState;
  readonly event?: { readonly name: AuthEvent; readonly detail: AuthEventDetail };
}

export const initialState: AuthState = { status: "unknown" };

export function sessionOf(state: AuthState): Session | null {
  return "session" in state ? state.session : null;
}

/** The state a session is in when no refresh runs: signed in, or waiting for its second factor. */
function settled(session: Session): AuthState {
  if (session.secondFactor === "MFA_REQUIRED") return { status: "mfaRequired", session };
  if (session.secondFactor === "MFA_ENROLLMENT_REQUIRED") return { status: "mfaEnrollmentRequired", session };
  return { status: "signedIn", session };
}

/**
 * The whole state machine: signed out → signed in (or waiting for a second factor) → refreshing →
 * signed in or signed out.
 */
export function transition(state: AuthState, input: Input): Step {
  const current = sessionOf(state);
  switch (input.type) {
    case "refreshStarted":
      if (state.status === "signedOut" || state.status === "refreshing") return { state };
      return { state: { status: "refreshing", session: current } };
    case "refreshFailed":
      if (state.status !== "refreshing") return { state };
      return { state: current ? settled(current) : { status: "unknown" } };
    case "session": {
      const { session } = input;
      if (state.status === "signedOut" && state.endedSessionId === session.sessionId) return { state };
      if (current?.accessToken === session.accessToken) return { state: settled(session) };
      const same = current?.sessionId === session.sessionId;
      // The same session owing the same (or, both times, nothing): a refresh. Anything else is news.
      const name = same && current!.secondFactor === session.secondFactor ? "TOKEN_REFRESHED" : (session.secondFactor ?? "SIGNED_IN");
      return { state: settled(session), event: { name, detail: detailOf(session) } };
    }
    case "secondFactor": {
      if (!current || current.secondFactor === input.reason) return { state };
      if (input.accessToken !== undefined && input.accessToken !== current.accessToken) return { state };
      const session = { ...current, secondFactor: input.reason };
      return { state: settled(session), event: { name: input.reason, detail: detailOf(session) } };
    }
    case "signedOut":
      if (state.status === "signedOut") return { state };
      return {
        state: { status: "signedOut", reason: input.reason, endedSessionId: current?.sessionId ?? null },
        event: { name: "SIGNED_OUT", detail: { reason: input.reason, ...(current ? { sessionId: current.sessionId } : {}) } },
      };
  }
}

function detailOf(session: Session): AuthEventDetail {
  return { user: session.user, sessionId: session.sessionId, tokenType: session.tokenType };
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
