import type { Identity } from "../../auth/authenticator";
import type { RequestContext } from "../../context/context";
import { AuthError } from "../../errors";

/** The caller's identity in a resolver guarded by @Authorized; throws if the guard was forgotten. */
export function signedIn(context: RequestContext): Identity {
  if (!context.identity) throw new AuthError("UNAUTHENTICATED", "AUTHENTICATION_REQUIRED", "You must be logged in");
  return context.identity;
}
