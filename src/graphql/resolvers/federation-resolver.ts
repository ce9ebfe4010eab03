import { Query, Resolver } from "type-graphql";
import type { Federation } from "../../auth/federation/federation";
import { SignInProvider } from "../types/federation";

@Resolver(() => SignInProvider)
export class FederationResolver {
  /** Null when OIDC_PROVIDERS is unset: no providers to list. */
  constructor(private readonly federation: Federation | null) {}

  @Query(() => [SignInProvider], { description: "The sign-in providers configured (OIDC_PROVIDERS), in their order; empty when none is." })
  signInProviders(): SignInProvider[] {
    return (this.federation?.list() ?? []).map(({ id, label }) => Object.assign(new SignInProvider(), { id, label }));
  }
}
