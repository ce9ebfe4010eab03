import { MESSAGES, needsSecondFactor } from "@revocable-auth/verifier/internal";
import type { AuthChecker } from "type-graphql";
import type { RequestContext } from "../../context/context";
import { AuthError, authenticationRequired, mfaEnrollmentRequired, mfaRequired } from "../../errors";
import type { Role } from "../../store/store";

/** Marks, with `@Extensions({ [AAL1_ALLOWED]: true })`, the few operations an aal1 token of a user with a second factor may use. */
export const AAL1_ALLOWED = "aal1Allowed";

export interface AssurancePolicy {
  /** MFA_REQUIRED_FOR_ROLES: operations of these roles need a second factor at aal2. */
  readonly mfaRequiredForRoles: readonly Role[];
}

/**
 * `@Authorized()` needs a verified identity; `@Authorized("ADMIN")` also needs the role. The
 * identity's roles are the user record's, read with the revocation check, so a changed role counts
 * at once; only a token accepted fail-open carries the roles in the token.
 *
 * Assurance (docs/mfa.md): an aal1 token of a user who has a second factor is refused (MFA_REQUIRED)
 * except by operations marked AAL1_ALLOWED (me, logout, verifyMfa); an operation of a role in
 * MFA_REQUIRED_FOR_ROLES needs a second factor at aal2 (MFA_ENROLLMENT_REQUIRED).
 */
export function authCheckerFor(policy: AssurancePolicy): AuthChecker<RequestContext, Role> {
  return ({ context, info }, required) => {
    const identity = context.identity;
    if (!identity) throw authenticationRequired();
    const aal1Allowed = info.parentType.getFields()[info.fieldName]?.extensions?.[AAL1_ALLOWED] === true;
    if (!aal1Allowed && needsSecondFactor(identity.user, identity.aal)) throw mfaRequired();
    if (required.length > 0 && !required.some((role) => identity.roles.includes(role))) {
      throw new AuthError("FORBIDDEN", "MISSING_ROLE", MESSAGES.missingRole(required));
    }
    // Fail-open (no user record) goes by the token's aal alone.
    const enrolled = identity.aal === "aal2" && (identity.user === null || identity.user.mfaEnabled === true);
    if (!enrolled && required.some((role) => policy.mfaRequiredForRoles.includes(role))) throw mfaEnrollmentRequired();
    return true;
  };
}

/** The checker without MFA_REQUIRED_FOR_ROLES, for a schema built to be printed. */
export const authChecker = authCheckerFor({ mfaRequiredForRoles: [] });
