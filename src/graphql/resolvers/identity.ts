import type { Identity } from "../../auth/tokens/authenticator";
import type { RequestContext } from "../../context/context";
import { authenticationRequired } from "../../errors";

/** The caller's identity in a resolver guarded by @Authorized; throws if the guard was forgotten. */
export function signedIn(context: RequestContext): Identity {
  if (!context.identity) throw authenticationRequired();
  return context.identity;
}
