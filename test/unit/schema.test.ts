import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { buildAuthSchema, printAuthSchema } from "../../src/graphql/schema";

describe("schema/schema.graphql", () => {
  it("is what the code builds (run `npm run schema` after changing the API)", async () => {
    const committed = readFileSync(resolve(__dirname, "../../schema/schema.graphql"), "utf8");
    expect(committed).toBe(printAuthSchema(await buildAuthSchema()));
  });

  it("contains the public contract", async () => {
    const sdl = printAuthSchema(await buildAuthSchema());
    for (const line of [
      "enum Role {",
      "me: User!",
      "users(after: String, filter: UserFilter, first: Int = 50): UserConnection!",
      "input UserFilter {",
      "createdAfter: DateTimeISO\n",
      "disabled: Boolean\n",
      "emailContains: String\n",
      "role: Role\n",
      "edges: [UserEdge!]!",
      "nodes: [User!]!",
      "pageInfo: PageInfo!",
      "totalCount: Int!",
      "cursor: String!",
      "node: User!",
      "hasNextPage: Boolean!",
      "endCursor: String\n",
      "register(input: RegisterInput!): AuthPayload!",
      "login(input: LoginInput!): AuthPayload!",
      "refresh(refreshToken: String): AuthPayload!",
      "refreshTokenInCookie: Boolean",
      "logout: Boolean!",
      "createdAt: DateTimeISO!",
      "refreshToken: String\n",
    ]) {
      expect(sdl).toContain(line);
    }
  });
});
