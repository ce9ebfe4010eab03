import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { FLOW_TTL_MS, type Federation } from "../../auth/federation/federation";
import type { RequestContext } from "../../context/context";
import { AuthError } from "../../errors";
import { LinkedIdentity, SignInProvider } from "../types/federation";
import { User } from "../types/user";
import { signedIn } from "./identity";

@Resolver(() => SignInProvider)
export class FederationResolver {
  /** Null when OIDC_PROVIDERS is unset: no providers to list, nothing to link. */
  constructor(private readonly federation: Federation | null) {}

  @Query(() => [SignInProvider], { description: "The sign-in providers configured (OIDC_PROVIDERS), in their order; empty when none is." })
  signInProviders(): SignInProvider[] {
    return (this.federation?.list() ?? []).map(({ id, label }) => Object.assign(new SignInProvider(), { id, label }));
  }

  @Authorized()
  @Mutation(() => String, {
    description:
      "The URL that links a provider identity to the caller: open it in the browser; the provider's callback returns to redirectTo (one of ALLOWED_REDIRECT_URLS), with ?error=<CODE> on failure. Works once, for 10 minutes, and only in the browser that asked: the answer sets that browser's short-lived link cookie (oidc_link), and the URL opened anywhere else answers 400 OIDC_STATE_MISMATCH. Needs a session that signed in or reauthenticated within REAUTH_MAX_AGE_SECONDS, else FORBIDDEN REAUTHENTICATION_REQUIRED, and a verified address, else FORBIDDEN EMAIL_NOT_VERIFIED; links nothing once that session has ended.",
  })
  async linkIdentityUrl(@Arg("provider", () => String) provider: string, @Arg("redirectTo", () => String) redirectTo: string, @Ctx() context: RequestContext): Promise<string> {
    const federation = this.enabled();
    if (!context.linkCookie) throw new AuthError("BAD_USER_INPUT", "INVALID_INPUT", "Ask for linkIdentityUrl over HTTP from the browser that will open it: its answer sets that browser's link cookie");
    const { url, binding } = await federation.linkUrl(signedIn(context), provider, redirectTo);
    context.linkCookie.set(binding, FLOW_TTL_MS);
    return url;
  }

  @Authorized()
  @Mutation(() => Boolean, { description: "Unlinks one of the caller's provider identities; BAD_USER_INPUT LAST_CREDENTIAL when it is the last way to sign in (no password, no passkey, no other identity)." })
  async unlinkIdentity(@Arg("id", () => ID) id: string, @Ctx() context: RequestContext): Promise<boolean> {
    await this.enabled().unlink(signedIn(context), id, context);
    return true;
  }

  private enabled(): Federation {
    if (!this.federation) throw new AuthError("NOT_FOUND", "PROVIDER_NOT_FOUND", "No sign-in provider is configured (OIDC_PROVIDERS)");
    return this.federation;
  }
}

@Resolver(() => User)
export class UserIdentitiesResolver {
  constructor(private readonly federation: Federation | null) {}

  @FieldResolver(() => [LinkedIdentity], { description: "The provider identities linked to this user, oldest first. The caller's own, or any user's for an ADMIN." })
  async identities(@Root() user: User, @Ctx() context: RequestContext): Promise<LinkedIdentity[]> {
    const caller = signedIn(context);
    if (caller.userId !== user.id && !caller.roles.includes("ADMIN")) throw new AuthError("FORBIDDEN", "MISSING_ROLE", "Only an ADMIN reads another user's identities");
    return (await this.federation?.identities(user.id) ?? []).map(LinkedIdentity.from);
  }
}
