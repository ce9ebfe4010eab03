import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import { USERS_PAGE_DEFAULT, USERS_PAGE_MAX, type Accounts } from "../../auth/accounts";
import type { RequestContext } from "../../context/context";
import { User } from "../types/user";
import { UserConnection } from "../types/user-connection";
import { signedIn } from "./identity";

@Resolver(() => User)
export class UserResolver {
  constructor(private readonly accounts: Accounts) {}

  @Authorized()
  @Query(() => User, { description: "The logged-in user." })
  async me(@Ctx() context: RequestContext): Promise<User> {
    const identity = signedIn(context);
    // Read with the revocation check already; only a fail-open request has to ask the store.
    return User.from(identity.user ?? (await this.accounts.getUser(identity.userId)));
  }

  @Authorized("ADMIN")
  @Query(() => UserConnection, {
    description: `Users, oldest first, one page at a time: first from 1 to ${USERS_PAGE_MAX}, after an endCursor. ADMIN only.`,
  })
  async users(
    @Arg("first", () => Int, { nullable: true, defaultValue: USERS_PAGE_DEFAULT }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
  ): Promise<UserConnection> {
    return UserConnection.from(await this.accounts.listUsers(first ?? USERS_PAGE_DEFAULT, after ?? null));
  }

  @Authorized("ADMIN")
  @Mutation(() => User, {
    description: "Disabling refuses the user's tokens at once and blocks login and refresh; enabling lets them log in again. ADMIN only.",
  })
  async setUserDisabled(
    @Arg("userId", () => ID) userId: string,
    @Arg("disabled", () => Boolean) disabled: boolean,
  ): Promise<User> {
    return User.from(await this.accounts.setDisabled(userId, disabled));
  }

  @Authorized("ADMIN")
  @Mutation(() => Int, { description: "Ends every session of a user; returns how many were live. ADMIN only." })
  revokeUserSessions(@Arg("userId", () => ID) userId: string): Promise<number> {
    return this.accounts.endSessionsOf(userId);
  }
}
