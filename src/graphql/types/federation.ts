import { Field, ID, ObjectType } from "type-graphql";

@ObjectType({ description: "A provider a sign-in page can offer (OIDC_PROVIDERS): send the browser to /auth/oidc/<id>/start?redirect_to=<url>." })
export class SignInProvider {
  @Field(() => ID, { description: "The provider's name in OIDC_PROVIDERS, as the routes take it." })
  id!: string;

  @Field(() => String, { description: "OIDC_<NAME>_LABEL, else the name capitalized." })
  label!: string;
}
