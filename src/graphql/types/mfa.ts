import { IsOptional, Length, MaxLength } from "class-validator";
import { ArgsType, Field, ObjectType } from "type-graphql";
import type { TotpEnrollment as TotpEnrollmentResult } from "../../auth/mfa/mfa";
import { AuthPayload } from "./auth-payload";

@ObjectType({ description: "A TOTP enrolment waiting for confirmTotp: put the secret into an authenticator app." })
export class TotpEnrollment {
  @Field(() => String, { description: "The shared secret in base32, for apps that cannot scan." })
  secret!: string;

  @Field(() => String, { description: "otpauth://totp/<issuer>:<email>?secret=…&issuer=… (SHA1, 6 digits, 30 s)." })
  otpauthUri!: string;

  @Field(() => String, { description: "The otpauthUri as an SVG QR code, to scan." })
  qrSvg!: string;

  static from(result: TotpEnrollmentResult): TotpEnrollment {
    return Object.assign(new TotpEnrollment(), result);
  }
}

@ObjectType({ description: "TOTP is on: the recovery codes, shown this once, and new aal2 tokens for this session." })
export class TotpConfirmation {
  @Field(() => [String], { description: "10 single-use codes for when the authenticator is lost; only their hashes are kept." })
  recoveryCodes!: string[];

  @Field(() => AuthPayload)
  auth!: AuthPayload;
}

@ArgsType()
export class EnrollTotpArgs {
  @Field(() => String, {
    nullable: true,
    description: "The password, checked like reauthenticate's: it counts as the recent authentication enrolling needs. Optional in a session that signed in or reauthenticated within REAUTH_MAX_AGE_SECONDS.",
  })
  @IsOptional()
  @Length(8, 128, { message: "currentPassword must be 8 to 128 characters" })
  currentPassword?: string | null;
}

@ArgsType()
export class MfaCodeArgs {
  @Field(() => String, { description: "A current 6-digit TOTP code, or (where accepted) an unused recovery code." })
  @MaxLength(64, { message: "code must be at most 64 characters" })
  code!: string;
}
