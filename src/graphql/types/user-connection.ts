import { Field, Int, ObjectType } from "type-graphql";
import type { UsersPage } from "../../auth/accounts/accounts";
import { User } from "./user";

@ObjectType({ description: "Relay-style page information." })
export class PageInfo {
  @Field(() => Boolean, { description: "Whether more items follow this page: ask again with after: endCursor." })
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: "Where the next page starts (the cursor of the last item on this page); null when the page is empty." })
  endCursor!: string | null;
}

@ObjectType({ description: "A user and the cursor that marks its place." })
export class UserEdge {
  @Field(() => String, { description: "Opaque; pass as after to get the users that follow this one." })
  cursor!: string;

  @Field(() => User)
  node!: User;
}

@ObjectType({ description: "One page of users, oldest first. Cursors stay valid while users are added." })
export class UserConnection {
  @Field(() => [UserEdge])
  edges!: UserEdge[];

  @Field(() => [User], { description: "The users of this page, as in edges." })
  nodes!: User[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: "How many users there are in all." })
  totalCount!: number;

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
