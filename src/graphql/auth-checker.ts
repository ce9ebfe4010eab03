import type { AuthChecker } from "type-graphql";
import type { RequestContext } from "../context/context";
import { AuthError, authenticationRequired } from "../errors";
import type { Role } from "../store/store";

/**
 * `@Authorized()` needs a verified identity; `@Authorized("ADMIN")` also needs the role. Roles come
 * from the user record read with the revocation check, so a changed role counts at once; only a
 * token accepted fail-open falls back to the roles it carries.
 */
export const authChecker: AuthChecker<RequestContext, Role> = ({ context }, required) => {
  const identity = context.identity;
  if (!identity) throw authenticationRequired();
  const roles = identity.user?.roles ?? identity.roles;
  if (required.length > 0 && !required.some((role) => roles.includes(role))) {
    throw new AuthError("FORBIDDEN", "MISSING_ROLE", `This operation requires the ${required.join(" or ")} role`);
  }
  return true;
};
