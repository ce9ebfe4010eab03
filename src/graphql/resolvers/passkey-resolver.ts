import { JSONScalar as GraphQLJSON } from "../types/json";
import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { Passkeys } from "../../auth/passkeys/passkeys";
import type { RequestContext } from "../../context/context";
import { AuthError } from "../../errors";
import { AuthPayload } from "../types/auth-payload";
import { LoginWithPasskeyArgs, Passkey, PasskeyLoginOptionsArgs, RegisterPasskeyArgs, RenamePasskeyArgs } from "../types/passkey";
import { deliver } from "./auth-resolver";
import { signedIn } from "./identity";

@Resolver(() => Passkey)
export class PasskeyResolver {
  /** Null when PASSKEYS=off: every operation answers FORBIDDEN / PASSKEYS_DISABLED. */
  constructor(private readonly service: Passkeys | null) {}

  @Authorized()
  @Mutation(() => GraphQLJSON, {
    description:
      "WebAuthn creation options for a new passkey of the caller, for PublicKeyCredential.parseCreationOptionsFromJSON. Its challenge is good for one registerPasskey within 5 minutes. Needs a session that signed in or reauthenticated within REAUTH_MAX_AGE_SECONDS, else FORBIDDEN REAUTHENTICATION_REQUIRED.",
  })
  passkeyRegistrationOptions(@Ctx() context: RequestContext): Promise<object> {
    return this.enabled().registrationOptions(signedIn(context));
  }

  @Authorized()
  @Mutation(() => Passkey, {
    description:
      "Verifies a new passkey's attestation and adds it to the caller's passkeys; the account's address is mailed. Needs a session that signed in or reauthenticated within REAUTH_MAX_AGE_SECONDS, else FORBIDDEN REAUTHENTICATION_REQUIRED (the challenge is kept: send the response again after reauthenticate).",
  })
  async registerPasskey(@Args(() => RegisterPasskeyArgs) args: RegisterPasskeyArgs, @Ctx() context: RequestContext): Promise<Passkey> {
    return Passkey.from(await this.enabled().register(signedIn(context), args.response, args.name, context));
  }

  @Mutation(() => GraphQLJSON, {
    description:
      "WebAuthn request options for signing in with a passkey, for PublicKeyCredential.parseRequestOptionsFromJSON. Its challenge is good for one loginWithPasskey within 5 minutes.",
  })
  passkeyLoginOptions(@Args(() => PasskeyLoginOptionsArgs) args: PasskeyLoginOptionsArgs, @Ctx() context: RequestContext): Promise<object> {
    return this.enabled().loginOptions(args.email, context);
  }

  @Mutation(() => AuthPayload, {
    description: 'Verifies a passkey assertion (user verification required) and starts a session at aal2, amr ["hwk" or "swk", "user"].',
  })
  async loginWithPasskey(@Args(() => LoginWithPasskeyArgs) args: LoginWithPasskeyArgs, @Ctx() context: RequestContext): Promise<AuthPayload> {
    const result = await this.enabled().login(args.response, args.device ?? null, context);
    return deliver(result, context, args.refreshTokenInCookie === true);
  }

  @Authorized()
  @Query(() => [Passkey], { description: "The caller's passkeys, oldest first." })
  async passkeys(@Ctx() context: RequestContext): Promise<Passkey[]> {
    return (await this.enabled().list(signedIn(context).userId)).map(Passkey.from);
  }

  @Authorized()
  @Mutation(() => Passkey)
  async renamePasskey(@Args(() => RenamePasskeyArgs) args: RenamePasskeyArgs, @Ctx() context: RequestContext): Promise<Passkey> {
    return Passkey.from(await this.enabled().rename(signedIn(context).userId, args.id, args.name));
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description: "Removes one of the caller's passkeys and ends the sessions it started; the account's address is mailed. Refused for the last way to sign in.",
  })
  async removePasskey(@Arg("id", () => ID) id: string, @Ctx() context: RequestContext): Promise<boolean> {
    await this.enabled().remove(signedIn(context), id, context);
    return true;
  }

  private enabled(): Passkeys {
    if (!this.service) throw new AuthError("FORBIDDEN", "PASSKEYS_DISABLED", "Passkeys are off on this server (PASSKEYS=off)");
    return this.service;
  }
}
