import { MESSAGES } from "@revocable-auth/verifier";
import type { AuthChecker } from "type-graphql";
import type { RequestContext } from "../context/context";
import { AuthError, authenticationRequired } from "../errors";
import type { Role } from "../store/store";

/**
 * `@Authorized()` needs a verified identity; `@Authorized("ADMIN")` also needs the role. The
 * identity's roles are the user record's, read with the revocation check, so a changed role counts
 * at once; only a token accepted fail-open carries the roles in the token.
 */
export const authChecker: AuthChecker<RequestContext, Role> = ({ context }, required) => {
  const identity = context.identity;
  if (!identity) throw authenticationRequired();
  if (required.length > 0 && !required.some((role) => identity.roles.includes(role))) {
    throw new AuthError("FORBIDDEN", "MISSING_ROLE", MESSAGES.missingRole(required));
  }
  return true;
};
