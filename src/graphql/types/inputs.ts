import { IsBoolean, isEmail, IsOptional, Length, MaxLength, ValidateBy } from "class-validator";
import { ArgsType, Field, InputType } from "type-graphql";

/**
 * A lone UTF-16 surrogate is not a character: it cannot be normalized or stored faithfully, and two
 * different ones can come out as the same replacement character.
 */
const isWellFormed = (value: unknown) => typeof value !== "string" || !/\p{Surrogate}/u.test(value);

export const WellFormed = (field: string) =>
  ValidateBy({
    name: "isWellFormed",
    validator: {
      validate: isWellFormed,
      defaultMessage: () => `${field} must not contain unpaired surrogate characters`,
    },
  });

/** class-validator's IsEmail, which throws (a 500) on a lone surrogate instead of answering false. */
const EmailAddress = (field = "email") =>
  ValidateBy({
    name: "isEmail",
    validator: {
      validate: (value: unknown) => typeof value === "string" && isWellFormed(value) && isEmail(value),
      defaultMessage: () => `${field} must be a valid email address`,
    },
  });

@InputType("CredentialsInput")
abstract class CredentialsInput {
  @Field(() => String)
  @WellFormed("email")
  @MaxLength(254, { message: "email must be at most 254 characters" })
  @EmailAddress()
  email!: string;

  @Field(() => String, { description: "8 to 128 characters." })
  @WellFormed("password")
  @Length(8, 128, { message: "password must be 8 to 128 characters" })
  password!: string;

  @Field(() => String, { nullable: true, description: "A name for this device, shown in the session list (at most 100 characters)." })
  @IsOptional()
  @WellFormed("device")
  @MaxLength(100, { message: "device must be at most 100 characters" })
  device?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "For browsers: keep the refresh token in an HttpOnly, Secure, SameSite=Strict cookie scoped to /graphql instead of returning it; AuthPayload.refreshToken is then null.",
  })
  @IsOptional()
  @IsBoolean()
  refreshTokenInCookie?: boolean | null;
}

@InputType()
export class RegisterInput extends CredentialsInput {}

@InputType()
export class LoginInput extends CredentialsInput {}

/** The same password rules as register and login. */
@ArgsType()
export class ChangePasswordArgs {
  @Field(() => String)
  @WellFormed("currentPassword")
  @Length(8, 128, { message: "currentPassword must be 8 to 128 characters" })
  currentPassword!: string;

  @Field(() => String, { description: "8 to 128 characters." })
  @WellFormed("newPassword")
  @Length(8, 128, { message: "newPassword must be 8 to 128 characters" })
  newPassword!: string;
}

/** A mailed link's token: `<user id>.<secret>`, far below this bound. */
const MailToken = () => MaxLength(512, { message: "token must be at most 512 characters" });

@ArgsType()
export class RequestPasswordResetArgs {
  @Field(() => String)
  @WellFormed("email")
  @MaxLength(254, { message: "email must be at most 254 characters" })
  @EmailAddress()
  email!: string;
}

@ArgsType()
export class ResetPasswordArgs {
  @Field(() => String, { description: "From the link's fragment: #token=…" })
  @WellFormed("token")
  @MailToken()
  token!: string;

  @Field(() => String, { description: "8 to 128 characters." })
  @WellFormed("newPassword")
  @Length(8, 128, { message: "newPassword must be 8 to 128 characters" })
  newPassword!: string;
}

@ArgsType()
export class MailTokenArgs {
  @Field(() => String, { description: "From the link's fragment: #token=…" })
  @WellFormed("token")
  @MailToken()
  token!: string;
}

@ArgsType()
export class RequestEmailChangeArgs {
  @Field(() => String)
  @WellFormed("newEmail")
  @MaxLength(254, { message: "newEmail must be at most 254 characters" })
  @EmailAddress("newEmail")
  newEmail!: string;

  @Field(() => String)
  @WellFormed("currentPassword")
  @Length(8, 128, { message: "currentPassword must be 8 to 128 characters" })
  currentPassword!: string;
}

@InputType({ description: "What reauthenticate checks: exactly one of the password and a second-factor code." })
export class ReauthenticateInput {
  @Field(() => String, { nullable: true, description: "The account's password." })
  @IsOptional()
  @WellFormed("password")
  @Length(8, 128, { message: "password must be 8 to 128 characters" })
  password?: string | null;

  @Field(() => String, { nullable: true, description: "A current 6-digit TOTP code, or an unused recovery code (which is spent)." })
  @IsOptional()
  @MaxLength(64, { message: "code must be at most 64 characters" })
  code?: string | null;
}
