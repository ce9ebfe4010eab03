import { Field, ID, ObjectType } from "type-graphql";
import type { AuthResult } from "../../auth/sessions/sessions";
import { User } from "./user";

@ObjectType({ description: "Tokens for a session, returned by register, login and refresh." })
export class AuthPayload {
  @Field(() => String, { description: "Send as `Authorization: <tokenType> <accessToken>`." })
  accessToken!: string;

  @Field(() => String, {
    description:
      '"Bearer", or "DPoP" when the sign-in came with a DPoP proof (RFC 9449): the tokens are bound to its key, and each request needs `Authorization: DPoP <accessToken>` and a fresh DPoP proof header from that key; so does refresh.',
  })
  tokenType!: string;

  @Field(() => String, {
    nullable: true,
    description:
      "Single use: each refresh returns a new one and the old one is rotated out (within REFRESH_REUSE_GRACE_SECONDS it gets the same new one again; later it ends the session).",
  })
  refreshToken!: string | null;

  @Field(() => Date)
  accessTokenExpiresAt!: Date;

  @Field(() => Date)
  refreshTokenExpiresAt!: Date;

  @Field(() => ID)
  sessionId!: string;

  @Field(() => User)
  user!: User;

  @Field(() => Boolean, {
    description:
      "True when the user has a second factor and this session has not verified it yet: these tokens are aal1, refused everywhere but me, logout and verifyMfa (MFA_REQUIRED).",
  })
  mfaRequired!: boolean;

  static from(result: AuthResult): AuthPayload {
    return Object.assign(new AuthPayload(), {
      accessToken: result.accessToken.token,
      tokenType: result.session.jkt === undefined ? "Bearer" : "DPoP",
      refreshToken: result.refreshToken.token,
      accessTokenExpiresAt: new Date(result.accessToken.expiresAt),
      refreshTokenExpiresAt: new Date(result.refreshToken.expiresAt),
      sessionId: result.session.id,
      user: User.from(result.user),
      mfaRequired: result.user.mfaEnabled === true && result.session.assurance?.aal !== "aal2",
    });
  }
}
