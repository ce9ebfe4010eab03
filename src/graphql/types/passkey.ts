import { IsOptional, MaxLength } from "class-validator";
import { JSONScalar as GraphQLJSON } from "./json";
import { ArgsType, Field, ID, ObjectType } from "type-graphql";
import { MAX_PASSKEY_NAME } from "../../auth/passkeys/passkeys";
import type { PasskeyRecord } from "../../store/store";
import { WellFormed } from "./inputs";

@ObjectType({ description: "A WebAuthn credential (passkey) of the caller; the API keeps its public key only." })
export class Passkey {
  @Field(() => ID, { description: "The credential id (base64url), as the authenticator made it." })
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: "The last sign-in with it; null before the first." })
  lastUsedAt!: Date | null;

  static from(record: PasskeyRecord): Passkey {
    return Object.assign(new Passkey(), {
      id: record.id,
      name: record.name,
      createdAt: new Date(record.createdAt),
      lastUsedAt: record.lastUsedAt === null ? null : new Date(record.lastUsedAt),
    });
  }
}

@ArgsType()
export class RegisterPasskeyArgs {
  @Field(() => GraphQLJSON, { description: "The new credential's JSON: `credential.toJSON()` after `navigator.credentials.create`." })
  response!: unknown;

  @Field(() => String, { nullable: true, description: `A name to tell it apart (at most ${MAX_PASSKEY_NAME} characters); "Passkey" when omitted.` })
  @IsOptional()
  @WellFormed("name")
  @MaxLength(MAX_PASSKEY_NAME, { message: `name must be at most ${MAX_PASSKEY_NAME} characters` })
  name?: string | null;
}

@ArgsType()
export class LoginWithPasskeyArgs {
  @Field(() => GraphQLJSON, { description: "The assertion's JSON: `credential.toJSON()` after `navigator.credentials.get`." })
  response!: unknown;

  @Field(() => String, { nullable: true, description: "A name for this device, shown in the session list (at most 100 characters)." })
  @IsOptional()
  @WellFormed("device")
  @MaxLength(100, { message: "device must be at most 100 characters" })
  device?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "True: the refresh token is set as an HttpOnly cookie and left out of the payload, as with login.",
  })
  @IsOptional()
  refreshTokenInCookie?: boolean | null;
}

@ArgsType()
export class PasskeyLoginOptionsArgs {
  @Field(() => String, {
    nullable: true,
    description: "Without it: options for a discoverable credential (the browser offers the passkeys it holds for this site).",
  })
  @IsOptional()
  @WellFormed("email")
  @MaxLength(254, { message: "email must be at most 254 characters" })
  email?: string | null;
}

@ArgsType()
export class RenamePasskeyArgs {
  @Field(() => ID)
  @MaxLength(1364, { message: "id must be at most 1364 characters" })
  id!: string;

  @Field(() => String, { description: `1 to ${MAX_PASSKEY_NAME} characters.` })
  @WellFormed("name")
  @MaxLength(MAX_PASSKEY_NAME, { message: `name must be at most ${MAX_PASSKEY_NAME} characters` })
  name!: string;
}
