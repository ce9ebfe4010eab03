import { Arg, Args, Authorized, Ctx, Extensions, ID, Mutation, Resolver } from "type-graphql";
import type { Mfa } from "../../auth/mfa/mfa";
import type { RequestContext } from "../../context/context";
import { AAL1_ALLOWED } from "../rules/auth-checker";
import { AuthPayload } from "../types/auth-payload";
import { EnrollTotpArgs, MfaCodeArgs, TotpConfirmation, TotpEnrollment } from "../types/mfa";
import { deliver } from "./auth-resolver";
import { signedIn } from "./identity";

/** The second factor (docs/mfa.md); the rules live in auth/mfa/mfa.ts. */
@Resolver()
export class MfaResolver {
  constructor(private readonly mfa: Mfa) {}

  @Authorized()
  @Mutation(() => TotpEnrollment, {
    description:
      "Starts a TOTP enrolment (15 minutes to confirm); replaces any earlier one. Refused while TOTP is on. Needs a recently authenticated session (REAUTH_MAX_AGE_SECONDS): currentPassword, when given, is checked and counts as that; without it, a session that signed in or reauthenticated too long ago gets FORBIDDEN REAUTHENTICATION_REQUIRED.",
  })
  async enrollTotp(@Args(() => EnrollTotpArgs) args: EnrollTotpArgs, @Ctx() context: RequestContext): Promise<TotpEnrollment> {
    return TotpEnrollment.from(await this.mfa.enrollTotp(signedIn(context), args.currentPassword ?? null, context));
  }

  @Authorized()
  @Mutation(() => TotpConfirmation, {
    description:
      "Turns TOTP on with a current code from the enrolled authenticator: ends the caller's other sessions and returns the recovery codes (shown once) and new aal2 tokens for this session.",
  })
  async confirmTotp(@Args(() => MfaCodeArgs) args: MfaCodeArgs, @Ctx() context: RequestContext): Promise<TotpConfirmation> {
    const { recoveryCodes, auth } = await this.mfa.confirmTotp(signedIn(context), args.code, context);
    return Object.assign(new TotpConfirmation(), { recoveryCodes: [...recoveryCodes], auth: deliverStepUp(auth, context) });
  }

  @Authorized()
  @Extensions({ [AAL1_ALLOWED]: true })
  @Mutation(() => AuthPayload, {
    description:
      "The second step of signing in: a current TOTP code or an unused recovery code raises this session to aal2. Returns new tokens; the session's earlier refresh tokens are refused from now on.",
  })
  async verifyMfa(@Args(() => MfaCodeArgs) args: MfaCodeArgs, @Ctx() context: RequestContext): Promise<AuthPayload> {
    return deliverStepUp(await this.mfa.verify(signedIn(context), args.code, context), context);
  }

  @Authorized()
  @Mutation(() => [String], {
    description:
      "Replaces every recovery code; needs an aal2 session that signed in, stepped up or reauthenticated within REAUTH_MAX_AGE_SECONDS (else FORBIDDEN REAUTHENTICATION_REQUIRED, and no code is spent), and a current TOTP code. Shown once.",
  })
  async regenerateRecoveryCodes(@Args(() => MfaCodeArgs) args: MfaCodeArgs, @Ctx() context: RequestContext): Promise<string[]> {
    return this.mfa.regenerateRecoveryCodes(signedIn(context), args.code, context);
  }

  @Authorized()
  @Mutation(() => Boolean, { description: "Turns TOTP off; needs an aal2 session and a current TOTP code. Ends the caller's other sessions." })
  async disableTotp(@Args(() => MfaCodeArgs) args: MfaCodeArgs, @Ctx() context: RequestContext): Promise<boolean> {
    await this.mfa.disableTotp(signedIn(context), args.code, context);
    return true;
  }

  @Authorized("ADMIN")
  @Mutation(() => Boolean, {
    description: "Removes a user's second factor and ends every session of theirs; false when they had none (nothing changes). ADMIN only.",
  })
  async resetUserMfa(@Arg("userId", () => ID) userId: string, @Ctx() context: RequestContext): Promise<boolean> {
    return this.mfa.resetUser(signedIn(context).userId, userId);
  }
}

/** A client that keeps its refresh token in the cookie gets the new family's token there too. */
function deliverStepUp(result: Parameters<typeof deliver>[0], context: RequestContext): AuthPayload {
  return deliver(result, context, context.refreshCookie.read() !== undefined);
}
