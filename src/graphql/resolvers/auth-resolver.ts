import { Arg, Args, Authorized, Ctx, Extensions, Mutation, Resolver } from "type-graphql";
import type { Accounts } from "../../auth/accounts/accounts";
import type { EmailVerification } from "../../auth/mail-links/email-verification";
import type { AuthResult, Sessions } from "../../auth/sessions/sessions";
import type { RequestContext } from "../../context/context";
import { isAuthError, unauthenticated } from "../../errors";
import { AAL1_ALLOWED } from "../rules/auth-checker";
import { AuthPayload } from "../types/auth-payload";
import { ChangePasswordArgs, LoginInput, RegisterInput } from "../types/inputs";
import { signedIn } from "./identity";

@Resolver()
export class AuthResolver {
  constructor(
    private readonly accounts: Accounts,
    private readonly sessions: Sessions,
    private readonly verification: EmailVerification,
  ) {}

  @Mutation(() => AuthPayload, {
    description:
      "Creates a USER account, mails a verification link and starts a session on this device. With REQUIRE_VERIFIED_EMAIL=on no session starts: it answers FORBIDDEN EMAIL_NOT_VERIFIED, for a new address and an existing one alike.",
  })
  async register(
    @Arg("input", () => RegisterInput) input: RegisterInput,
    @Ctx() context: RequestContext,
  ): Promise<AuthPayload> {
    return deliver(await this.verification.register(input, context), context, input.refreshTokenInCookie === true);
  }

  @Mutation(() => AuthPayload, { description: "Starts a session on this device." })
  async login(@Arg("input", () => LoginInput) input: LoginInput, @Ctx() context: RequestContext): Promise<AuthPayload> {
    return deliver(await this.accounts.login(input, context), context, input.refreshTokenInCookie === true);
  }

  @Mutation(() => AuthPayload, {
    description:
      "Exchanges a refresh token for new tokens; the presented one is rotated out. Presented again within REFRESH_REUSE_GRACE_SECONDS it gets the same new refresh token; later, it ends the session. Without the argument, the refresh cookie is used and the new refresh token goes back into it.",
  })
  async refresh(
    @Arg("refreshToken", () => String, { nullable: true }) refreshToken: string | null | undefined,
    @Ctx() context: RequestContext,
  ): Promise<AuthPayload> {
    const fromCookie = refreshToken == null;
    const presented = refreshToken ?? context.refreshCookie.read();
    if (!presented) {
      throw unauthenticated("INVALID_TOKEN", "No refresh token: pass refreshToken, or send the refresh cookie");
    }
    try {
      return deliver(await this.sessions.refresh(presented, context), context, fromCookie);
    } catch (error) {
      // A refused token is dead: drop it. A store outage is not a verdict on the token: keep it.
      if (fromCookie && isAuthError(error) && error.code === "UNAUTHENTICATED") context.refreshCookie.clear();
      throw error;
    }
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description:
      "Checks the current password, stores the new one and ends every other session of the caller; this session keeps working.",
  })
  async changePassword(@Args(() => ChangePasswordArgs) args: ChangePasswordArgs, @Ctx() context: RequestContext): Promise<boolean> {
    await this.accounts.changePassword(signedIn(context), args.currentPassword, args.newPassword, context);
    return true;
  }

  @Authorized()
  @Extensions({ [AAL1_ALLOWED]: true })
  @Mutation(() => Boolean, {
    description: "Revokes the access token that made this request and ends its session (with its refresh token).",
  })
  async logout(@Ctx() context: RequestContext): Promise<boolean> {
    await this.sessions.logout(signedIn(context), context);
    context.refreshCookie.clear();
    return true;
  }
}

/** Hands the refresh token over in the payload, or only in the cookie when the client opted in. */
export function deliver(result: AuthResult, context: RequestContext, inCookie: boolean): AuthPayload {
  const payload = AuthPayload.from(result);
  if (!inCookie) return payload;
  context.refreshCookie.set(result.refreshToken.token, result.refreshToken.expiresAt);
  payload.refreshToken = null;
  return payload;
}
