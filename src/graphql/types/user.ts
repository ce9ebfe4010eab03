import { Field, ID, ObjectType } from "type-graphql";
import type { Role, UserRecord } from "../../store/store";
import { RoleEnum } from "./role";

@ObjectType({ description: "An account." })
export class User {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: "Lower-cased; unique." })
  email!: string;

  @Field(() => [RoleEnum])
  roles!: Role[];

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Boolean, { description: "A disabled user cannot log in, and their tokens are refused." })
  disabled!: boolean;

  @Field(() => Boolean, { description: "True while a second factor (TOTP) is on: signing in then takes verifyMfa too." })
  mfaEnabled!: boolean;

  @Field(() => Boolean, { description: "The address was proven by a mailed link (verification, password reset or email change)." })
  emailVerified!: boolean;

  /** Field by field, rather than spreading the record: `me` builds one per request, and a copying spread is V8's slow path. */
  static from(record: UserRecord): User {
    const user = new User();
    user.id = record.id;
    user.email = record.email;
    user.roles = [...record.roles];
    user.createdAt = new Date(record.createdAt);
    user.disabled = record.disabled;
    user.mfaEnabled = record.mfaEnabled === true;
    user.emailVerified = record.emailVerified === true;
    return user;
  }
}
