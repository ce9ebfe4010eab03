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

  static from(record: UserRecord): User {
    return Object.assign(new User(), {
      ...record,
      roles: [...record.roles],
      createdAt: new Date(record.createdAt),
      mfaEnabled: record.mfaEnabled === true,
      emailVerified: record.emailVerified === true,
    });
  }
}
