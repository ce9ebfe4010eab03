import type { Aal } from "@revocable-auth/verifier";
import type { Assurance, AuthMethod } from "@revocable-auth/verifier/internal";

/**
 * Assurance levels in this API's domain. The types and the rule other services apply live in the
 * verifier package (assurance.ts); here is how a session gets its level:
 *
 * - a sign-in with one factor starts it at aal1 (`Sessions.start(user, device, PASSWORD)`);
 * - a second factor raises the session it proves, never a new one (`Sessions.stepUp(identity, secondFactor(current, "otp"))`),
 *   and the raise starts a new refresh-token family, so a refresh token issued before it can never come back at aal2;
 * - a sign-in method that is multi-factor by itself (a passkey with user verification) starts at
 *   aal2 directly: `Sessions.start(user, device, { aal: "aal2", amr: ["hwk", "user"] })`.
 *
 * A refresh keeps the level the session record holds and never raises it.
 */
export type { Aal, Assurance, AuthMethod };

/** A password sign-in: one knowledge factor. */
export const PASSWORD: Assurance = Object.freeze({ aal: "aal1", amr: Object.freeze(["pwd"]) });

/** What a session began before assurance was recorded counts as: the least there is. */
export const UNKNOWN_ASSURANCE: Assurance = PASSWORD;

/** `current` raised by a second factor proved with `method` (RFC 8176), e.g. "otp". */
export function secondFactor(current: Assurance, method: AuthMethod): Assurance {
  return { aal: "aal2", amr: current.amr.includes(method) ? [...current.amr] : [...current.amr, method] };
}
