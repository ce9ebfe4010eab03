import { Arg, Authorized, Ctx, Mutation, Resolver } from "type-graphql";
import type { Reauthentication } from "../../auth/mfa/reauthentication";
import type { RequestContext } from "../../context/context";
import { ReauthenticateInput } from "../types/inputs";
import { signedIn } from "./identity";

/** Proving a credential again before adding one (docs/security.md#recent-authentication); the rules live in auth/mfa/reauthentication.ts. */
@Resolver()
export class ReauthenticationResolver {
  constructor(private readonly reauthentication: Reauthentication) {}

  @Authorized()
  @Mutation(() => Boolean, {
    description:
      "Proves it is still you, with exactly one of the password or a second-factor code (TOTP or recovery code): this session then counts as recently authenticated for REAUTH_MAX_AGE_SECONDS, as it does after signing in. Adding a passkey, enrolling TOTP and making new recovery codes need that (else FORBIDDEN REAUTHENTICATION_REQUIRED). A wrong password or code answers as changePassword or verifyMfa do, throttled alike.",
  })
  async reauthenticate(@Arg("input", () => ReauthenticateInput) input: ReauthenticateInput, @Ctx() context: RequestContext): Promise<boolean> {
    await this.reauthentication.reauthenticate(signedIn(context), input, context);
    return true;
  }
}
