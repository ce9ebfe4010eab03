import { Field, ID, ObjectType } from "type-graphql";

@ObjectType({ description: "A provider a sign-in page can offer (OIDC_PROVIDERS): send the browser to /auth/oidc/<id>/start?redirect_to=<url>." })
export class SignInProvider {
  @Field(() => ID, { description: "The provider's name in OIDC_PROVIDERS, as the routes take it." })
  id!: string;

  @Field(() => String, { description: "OIDC_<NAME>_LABEL, else the name capitalized." })
  label!: string;
}

@ObjectType({ description: "A provider identity linked to the caller: signing in with it signs in to this account." })
export class LinkedIdentity {
  @Field(() => ID, { description: "`provider:subject`; unlinkIdentity takes it." })
  id!: string;

  @Field(() => String, { description: "The provider's name in OIDC_PROVIDERS." })
  provider!: string;

  @Field(() => String, { description: "The provider's stable subject for the person (`sub`, or GitHub's user id)." })
  subject!: string;

  @Field(() => String, { nullable: true, description: "The address the provider gave when linking; never used to sign in." })
  email!: string | null;

  @Field(() => Date)
  linkedAt!: Date;

  static from(record: { id: string; provider: string; subject: string; email: string | null; linkedAt: number }): LinkedIdentity {
    return Object.assign(new LinkedIdentity(), { ...record, linkedAt: new Date(record.linkedAt) });
  }
}
