import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from "graphql";
import { Arg, Authorized, Ctx, Extensions, ID, Info, Int, Mutation, Query, Resolver } from "type-graphql";
import { USERS_PAGE_DEFAULT, USERS_PAGE_MAX, type Accounts } from "../../auth/accounts/accounts";
import type { RequestContext } from "../../context/context";
import type { Role } from "../../store/store";
import { AAL1_ALLOWED } from "../rules/auth-checker";
import { RoleEnum } from "../types/role";
import { oncePerRequest } from "../rules/once-per-request";
import { User } from "../types/user";
import { UserConnection, UserFilterInput } from "../types/user-connection";
import { signedIn } from "./identity";

@Resolver(() => User)
export class UserResolver {
  constructor(private readonly accounts: Accounts) {}

  @Authorized()
  @Extensions({ [AAL1_ALLOWED]: true })
  @Query(() => User, { description: "The logged-in user. Open to an aal1 session that still has to verifyMfa." })
  async me(@Ctx() context: RequestContext): Promise<User> {
    const identity = signedIn(context);
    // Read with the revocation check already; only a fail-open request has to ask the store.
    return User.from(identity.user ?? (await this.accounts.getUser(identity.userId)));
  }

  @Authorized("ADMIN")
  @Query(() => UserConnection, {
    description: `Users, oldest first, that meet the filter, one page at a time: first from 1 to ${USERS_PAGE_MAX}, after an endCursor (from any filter). ADMIN only.`,
  })
  async users(
    @Arg("first", () => Int, { nullable: true, defaultValue: USERS_PAGE_DEFAULT }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Arg("filter", () => UserFilterInput, { nullable: true }) filter: UserFilterInput | null,
    @Ctx() context: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<UserConnection> {
    const page = await oncePerRequest(context, "users", () =>
      this.accounts.listUsers(first ?? USERS_PAGE_DEFAULT, after ?? null, UserFilterInput.toFilter(filter ?? null), asksFor(info, "totalCount")),
    );
    return UserConnection.from(page);
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
    return User.from(await this.accounts.setDisabled(signedIn(context), userId, disabled, context));
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
    return User.from(await this.accounts.setRoles(signedIn(context), userId, roles, context));
  }

  @Authorized("ADMIN")
  @Mutation(() => Int, { description: "Ends every session of a user; returns how many were live. ADMIN only." })
  async revokeUserSessions(@Arg("userId", () => ID) userId: string, @Ctx() context: RequestContext): Promise<number> {
    return this.accounts.revokeSessionsOf(signedIn(context), userId, context);
  }
}

/**
 * Whether the field's selection asks for `field`, through fragments too. A @skip or @include still
 * counts as asking: at worst the count is made and not sent.
 */
function asksFor(info: GraphQLResolveInfo, field: string): boolean {
  const seen = new Set<string>();
  const visit = (set: SelectionSetNode | undefined): boolean =>
    set !== undefined &&
    set.selections.some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === field;
      if (selection.kind === Kind.INLINE_FRAGMENT) return visit(selection.selectionSet);
      if (seen.has(selection.name.value)) return false;
      seen.add(selection.name.value);
      return visit(info.fragments[selection.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((node) => visit(node.selectionSet));
}
