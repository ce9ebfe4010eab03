import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { Accounts } from "../../auth/accounts";
import type { Audit } from "../../auth/audit";
import type { RequestContext } from "../../context/context";
import type { Role } from "../../store/store";
import { RoleEnum } from "../types/role";
import { oncePerRequest } from "../once-per-request";
import { User } from "../types/user";
import { signedIn } from "./identity";

@Resolver(() => User)
export class UserResolver {
  constructor(
    private readonly accounts: Accounts,
    private readonly audit?: Audit,
  ) {}

  @Authorized()
  @Query(() => User, { description: "The logged-in user." })
  async me(@Ctx() context: RequestContext): Promise<User> {
    const identity = signedIn(context);
    // Read with the revocation check already; only a fail-open request has to ask the store.
    return User.from(identity.user ?? (await this.accounts.getUser(identity.userId)));
  }

  @Authorized("ADMIN")
  @Query(() => [User], { description: "Every user, oldest first. ADMIN only." })
  async users(@Ctx() context: RequestContext): Promise<User[]> {
    return (await oncePerRequest(context, "users", () => this.accounts.listUsers())).map(User.from);
  }

  @Authorized("ADMIN")
  @Mutation(() => User, {
    description:
      "Disabling refuses the user's tokens at once and blocks login and refresh; enabling lets them log in again. Disabling yourself or the last enabled admin is refused (LAST_ADMIN). ADMIN only.",
  })
  async setUserDisabled(
    @Arg("userId", () => ID) userId: string,
    @Arg("disabled", () => Boolean) disabled: boolean,
    @Ctx() context: RequestContext,
  ): Promise<User> {
    const user = User.from(await this.accounts.setDisabled(signedIn(context).userId, userId, disabled));
    this.audit?.adminAction(signedIn(context).userId, "setUserDisabled", userId, { disabled });
    return user;
  }

  @Authorized("ADMIN")
  @Mutation(() => User, {
    description:
      "Replaces a user's roles (at least one); they count from the user's next request. Taking ADMIN from the last enabled admin is refused (LAST_ADMIN). ADMIN only.",
  })
  async setUserRoles(
    @Arg("userId", () => ID) userId: string,
    @Arg("roles", () => [RoleEnum]) roles: Role[],
    @Ctx() context: RequestContext,
  ): Promise<User> {
    const user = User.from(await this.accounts.setRoles(userId, roles));
    this.audit?.adminAction(signedIn(context).userId, "setUserRoles", userId, { roles: user.roles });
    return user;
  }

  @Authorized("ADMIN")
  @Mutation(() => Int, { description: "Ends every session of a user; returns how many were live. ADMIN only." })
  async revokeUserSessions(@Arg("userId", () => ID) userId: string, @Ctx() context: RequestContext): Promise<number> {
    const ended = await this.accounts.endSessionsOf(userId);
    this.audit?.adminAction(signedIn(context).userId, "revokeUserSessions", userId, { ended });
    return ended;
  }
}
