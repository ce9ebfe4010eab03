import { Field, InputType, Int, ObjectType } from "type-graphql";
import { EMAIL_CONTAINS_MAX, type UsersPage } from "../../auth/accounts/accounts";
import type { Role, UserFilter } from "../../store/store";
import { RoleEnum } from "./role";
import { User } from "./user";

@ObjectType({ description: "Relay-style page information." })
export class PageInfo {
  @Field(() => Boolean, { description: "Whether more items follow this page: ask again with after: endCursor." })
  hasNextPage!: boolean;

  @Field(() => String, {
    nullable: true,
    description:
      "Where the next page starts: the cursor of the last item on this page, or a place past it when a filtered page stopped reading before it filled; null when the page is empty and last.",
  })
  endCursor!: string | null;
}

@ObjectType({ description: "A user and the cursor that marks its place." })
export class UserEdge {
  @Field(() => String, { description: "Opaque; pass as after to get the users that follow this one." })
  cursor!: string;

  @Field(() => User)
  node!: User;
}

@ObjectType({ description: "One page of users, oldest first. Cursors stay valid while users are added, and under any filter." })
export class UserConnection {
  @Field(() => [UserEdge])
  edges!: UserEdge[];

  @Field(() => [User], { description: "The users of this page, as in edges." })
  nodes!: User[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: "How many users meet the filter (all of them without one). On Redis, under a filter on more than createdAfter, reading it reads every user record." })
  totalCount!: number | null;

  static from(page: UsersPage): UserConnection {
    const edges = page.edges.map(({ cursor, user }) => Object.assign(new UserEdge(), { cursor, node: User.from(user) }));
    return Object.assign(new UserConnection(), {
      edges,
      nodes: edges.map((edge) => edge.node),
      pageInfo: Object.assign(new PageInfo(), { hasNextPage: page.hasNextPage, endCursor: page.endCursor }),
      totalCount: page.totalCount,
    });
  }
}

@InputType("UserFilter", { description: "Narrows users; every field is optional and all given ones must match." })
export class UserFilterInput {
  @Field(() => String, { nullable: true, description: `Part of the address, any case (1 to ${EMAIL_CONTAINS_MAX} characters).` })
  emailContains?: string | null;

  @Field(() => RoleEnum, { nullable: true, description: "Users who hold this role." })
  role?: Role | null;

  @Field(() => Boolean, { nullable: true })
  disabled?: boolean | null;

  @Field(() => Date, { nullable: true, description: "Users created strictly after this instant." })
  createdAfter?: Date | null;

  /** The filter as the domain takes it: the instant as epoch ms. */
  static toFilter(input: UserFilterInput | null): UserFilter | null {
    if (input === null) return null;
    const { emailContains, role, disabled, createdAfter } = input;
    return { emailContains, role, disabled, createdAfter: createdAfter?.getTime() ?? null };
  }
}
