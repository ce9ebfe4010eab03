import { Args, Authorized, Ctx, Mutation, Resolver } from "type-graphql";
import type { EmailChange } from "../../auth/mail-links/email-change";
import type { EmailVerification } from "../../auth/mail-links/email-verification";
import type { Recovery } from "../../auth/mail-links/recovery";
import type { RequestContext } from "../../context/context";
import { MailTokenArgs, RequestEmailChangeArgs, RequestPasswordResetArgs, ResetPasswordArgs } from "../types/inputs";
import { signedIn } from "./identity";

/** Password reset, email verification and email change: each a flow in src/auth, each by a mailed link. */
@Resolver()
export class AccountEmailResolver {
  constructor(
    private readonly recovery: Recovery,
    private readonly verification: EmailVerification,
    private readonly emailChange: EmailChange,
  ) {}

  @Mutation(() => Boolean, {
    description:
      "Mails a password reset link if the address has an account. Always true, in the same time, whether or not it has one. Throttled per address and per client (RECOVERY_THROTTLED).",
  })
  requestPasswordReset(@Args(() => RequestPasswordResetArgs) args: RequestPasswordResetArgs, @Ctx() context: RequestContext): Promise<boolean> {
    return this.recovery.requestPasswordReset(args.email, context);
  }

  @Mutation(() => Boolean, {
    description:
      "Sets a new password with the token from a reset link, ends every session of the account and refuses its access tokens at once. Signs nobody in: log in with the new password. An unknown, used or expired token answers INVALID_MAIL_TOKEN.",
  })
  resetPassword(@Args(() => ResetPasswordArgs) args: ResetPasswordArgs, @Ctx() context: RequestContext): Promise<boolean> {
    return this.recovery.resetPassword(args.token, args.newPassword, context);
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description: "Mails a new verification link to the caller's address (the older link stops working). True at once when it is verified already. Throttled.",
  })
  sendVerificationEmail(@Ctx() context: RequestContext): Promise<boolean> {
    return this.verification.resend(signedIn(context), context);
  }

  @Mutation(() => Boolean, { description: "Marks the address verified with the token from a verification link; works once, needs no session." })
  verifyEmail(@Args(() => MailTokenArgs) args: MailTokenArgs, @Ctx() context: RequestContext): Promise<boolean> {
    return this.verification.verify(args.token, context);
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description:
      "Checks the current password (throttled like login), mails a confirmation link to the new address and a notice to the current one. An address that has an account gets the same answer, and no link.",
  })
  requestEmailChange(@Args(() => RequestEmailChangeArgs) args: RequestEmailChangeArgs, @Ctx() context: RequestContext): Promise<boolean> {
    return this.emailChange.request(signedIn(context), args.newEmail, args.currentPassword, context);
  }

  @Mutation(() => Boolean, {
    description:
      "Moves the account to the new address with the token from the confirmation link: the address counts as verified, and every session but the one that asked ends. Works once, needs no session, but the session that asked must still be live and the account enabled: a password change or reset, log out everywhere, revoking the user's sessions or disabling the user cancels the change (INVALID_MAIL_TOKEN).",
  })
  confirmEmailChange(@Args(() => MailTokenArgs) args: MailTokenArgs, @Ctx() context: RequestContext): Promise<boolean> {
    return this.emailChange.confirm(args.token, context);
  }

  @Mutation(() => Boolean, {
    description:
      "\"This was not me\", with the token from the notice mailed to the old address: cancels the pending email change and ends every session of the account. If the change went through already, the account moves back to the old address (unless another account took it meanwhile). Works once, needs no session; an unknown, used or expired token answers INVALID_MAIL_TOKEN.",
  })
  cancelEmailChange(@Args(() => MailTokenArgs) args: MailTokenArgs, @Ctx() context: RequestContext): Promise<boolean> {
    return this.emailChange.cancel(args.token, context);
  }
}
