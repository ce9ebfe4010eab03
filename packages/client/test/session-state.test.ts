import { freshToken, initialState, transition, type AuthState, type Input, type Session } from "../src/session-state.js";

const user = { id: "u1", email: "a@example.com", roles: ["USER"] };
const session = (accessToken: string, sessionId = "s1", receivedAt = 0, expiresAt = 900_000, secondFactor: Session["secondFactor"] = null): Session => ({
  accessToken,
  receivedAt,
  expiresAt,
  sessionId,
  user,
  tokenType: "DPoP",
  secondFactor,
});

/** Feeds inputs in order; answers the final state and the events, as "NAME:reason" strings. */
function run(inputs: Input[], from: AuthState = initialState) {
  const events: string[] = [];
  let state = from;
  for (const input of inputs) {
    const step = transition(state, input);
    state = step.state;
    if (step.event) events.push(step.event.detail.reason ? `${step.event.name}:${step.event.detail.reason}` : step.event.name);
  }
  return { state, events };
}

describe("the client's state machine", () => {
  it("starts unknown: a fresh tab does not know yet whether the cookie holds a session", () => {
    expect(initialState).toEqual({ status: "unknown" });
  });

  it("signs in, refreshes, and signs out, with one event each", () => {
    const { state, events } = run([
      { type: "session", session: session("t1") },
      { type: "refreshStarted" },
      { type: "session", session: session("t2") },
      { type: "signedOut", reason: "SIGNED_OUT" },
    ]);
    expect(events).toEqual(["SIGNED_IN", "TOKEN_REFRESHED", "SIGNED_OUT:SIGNED_OUT"]);
    expect(state).toEqual({ status: "signedOut", reason: "SIGNED_OUT", endedSessionId: "s1" });
  });

  it("keeps the session while refreshing, so callers can tell what was there", () => {
    expect(run([{ type: "session", session: session("t1") }, { type: "refreshStarted" }]).state).toEqual({ status: "refreshing", session: session("t1") });
  });

  it("goes back to where it was after a refresh that failed for a passing cause", () => {
    expect(run([{ type: "session", session: session("t1") }, { type: "refreshStarted" }, { type: "refreshFailed" }]).state).toEqual({ status: "signedIn", session: session("t1") });
    expect(run([{ type: "refreshStarted" }, { type: "refreshFailed" }]).state).toEqual({ status: "unknown" });
  });

  it("is SIGNED_IN, not TOKEN_REFRESHED, when the first token of a tab comes from the cookie", () => {
    expect(run([{ type: "refreshStarted" }, { type: "session", session: session("t1") }]).events).toEqual(["SIGNED_IN"]);
  });

  it("is SIGNED_IN when another session replaces this one", () => {
    expect(run([{ type: "session", session: session("t1", "s1") }, { type: "session", session: session("t2", "s2") }]).events).toEqual(["SIGNED_IN", "SIGNED_IN"]);
  });

  it("says nothing when another tab reports the token this tab already has", () => {
    expect(run([{ type: "session", session: session("t1") }, { type: "session", session: session("t1") }]).events).toEqual(["SIGNED_IN"]);
  });

  it("signs out once: a second sign-out from another tab or the socket is no event", () => {
    const { events } = run([
      { type: "session", session: session("t1") },
      { type: "signedOut", reason: "TOKEN_REVOKED" },
      { type: "signedOut", reason: "SIGNED_OUT" },
      { type: "refreshStarted" },
    ]);
    expect(events).toEqual(["SIGNED_IN", "SIGNED_OUT:TOKEN_REVOKED"]);
  });

  it("is final for the ended session: a late message about it does not sign the tab back in", () => {
    const { state, events } = run([
      { type: "session", session: session("t1", "s1") },
      { type: "signedOut", reason: "TOKEN_REVOKED" },
      { type: "session", session: session("t2", "s1") },
    ]);
    expect(state.status).toBe("signedOut");
    expect(events).toEqual(["SIGNED_IN", "SIGNED_OUT:TOKEN_REVOKED"]);
  });

  it("signs in again with a new session after a sign-out", () => {
    const { events } = run([{ type: "session", session: session("t1", "s1") }, { type: "signedOut", reason: "SIGNED_OUT" }, { type: "session", session: session("t2", "s2") }]);
    expect(events).toEqual(["SIGNED_IN", "SIGNED_OUT:SIGNED_OUT", "SIGNED_IN"]);
  });

  it("hands out a token until the refresh margin, which is at most half the token's lifetime", () => {
    const signedIn: AuthState = { status: "signedIn", session: session("t1", "s1", 0, 900_000) };
    expect(freshToken(signedIn, 800_000, 30_000)).toBe("t1");
    expect(freshToken(signedIn, 870_000, 30_000)).toBeNull();
    const shortLived: AuthState = { status: "signedIn", session: session("t1", "s1", 0, 2_000) };
    expect(freshToken(shortLived, 900, 30_000)).toBe("t1");
    expect(freshToken(shortLived, 1_000, 30_000)).toBeNull();
    expect(freshToken({ status: "unknown" }, 0, 0)).toBeNull();
  });

  it("an aal1 session waits in mfaRequired (MFA_REQUIRED), refreshes there quietly, and verifyMfa's tokens sign it in", () => {
    const { state, events } = run([
      { type: "session", session: session("t1", "s1", 0, 900_000, "MFA_REQUIRED") },
      { type: "refreshStarted" },
      { type: "refreshFailed" },
      { type: "session", session: session("t2", "s1", 0, 900_000, "MFA_REQUIRED") },
      { type: "session", session: session("t3") },
    ]);
    expect(events).toEqual(["MFA_REQUIRED", "TOKEN_REFRESHED", "SIGNED_IN"]);
    expect(state).toMatchObject({ status: "signedIn", session: { accessToken: "t3" } });
  });

  it("MFA_REQUIRED and MFA_ENROLLMENT_REQUIRED answers are states, once each, and never a sign-out", () => {
    const { state, events } = run([
      { type: "session", session: session("t1") },
      { type: "secondFactor", reason: "MFA_ENROLLMENT_REQUIRED" },
      { type: "secondFactor", reason: "MFA_ENROLLMENT_REQUIRED" },
    ]);
    expect(events).toEqual(["SIGNED_IN", "MFA_ENROLLMENT_REQUIRED"]);
    expect(state).toMatchObject({ status: "mfaEnrollmentRequired", session: { accessToken: "t1" } });
    expect(run([{ type: "secondFactor", reason: "MFA_REQUIRED" }]).state).toEqual(initialState);
  });

  it("a late MFA_REQUIRED about the aal1 token leaves the verified session signed in", () => {
    const { state, events } = run([
      { type: "session", session: session("aal1", "s1", 0, 900_000, "MFA_REQUIRED") },
      { type: "session", session: session("aal2") },
      { type: "secondFactor", reason: "MFA_REQUIRED", accessToken: "aal1" },
    ]);
    expect(events).toEqual(["MFA_REQUIRED", "SIGNED_IN"]);
    expect(state).toMatchObject({ status: "signedIn", session: { accessToken: "aal2" } });
    expect(run([{ type: "secondFactor", reason: "MFA_REQUIRED", accessToken: "aal2" }], state).state.status).toBe("mfaRequired");
  });

  it("every session event's detail names the token type", () => {
    const step = transition(initialState, { type: "session", session: session("t1") });
    expect(step.event).toEqual({ name: "SIGNED_IN", detail: { user, sessionId: "s1", tokenType: "DPoP" } });
  });
});
