import { Arg, Authorized, Ctx, Mutation, Resolver } from "type-graphql";
import type { Accounts } from "../../auth/accounts";
import type { Sessions } from "../../auth/sessions";
import type { RequestContext } from "../../context/context";
import { AuthPayload } from "../types/auth-payload";
import { LoginInput, RegisterInput } from "../types/inputs";
import { signedIn } from "./identity";

@Resolver()
export class AuthResolver {
  constructor(
    private readonly accounts: Accounts,
    private readonly sessions: Sessions,
  ) {}

  @Mutation(() => AuthPayload, { description: "Creates a USER account and starts a session on this device." })
  async register(@Arg("input", () => RegisterInput) input: RegisterInput): Promise<AuthPayload> {
    return AuthPayload.from(await this.accounts.register(input));
  }

  @Mutation(() => AuthPayload, { description: "Starts a session on this device." })
  async login(@Arg("input", () => LoginInput) input: LoginInput): Promise<AuthPayload> {
    return AuthPayload.from(await this.accounts.login(input));
  }

  @Mutation(() => AuthPayload, {
    description: "Exchanges a refresh token for new tokens. The presented refresh token stops working at once.",
  })
  async refresh(@Arg("refreshToken", () => String) refreshToken: string): Promise<AuthPayload> {
    return AuthPayload.from(await this.sessions.refresh(refreshToken));
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description: "Revokes the access token that made this request and ends its session (with its refresh token).",
  })
  async logout(@Ctx() context: RequestContext): Promise<boolean> {
    await this.sessions.logout(signedIn(context));
    return true;
  }
}
