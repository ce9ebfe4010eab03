import { randomUUID } from "node:crypto";
import { SetUserDisabledDocument, SetUserRolesDocument, UsersDocument, type UserFilter } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, post, register, send, uniqueEmail } from "../support/client";
import { startStore, type StoreBackend, type StoreMode } from "../support/stores";

describe.each<[StoreMode]>([["redis"], ["memory"], ["postgres"]])("users(filter:) over HTTP on the %s store", (storeKind) => {
  let backend: StoreBackend | undefined;
  let api: TestApi;
  let root: Awaited<ReturnType<typeof login>>;
  const ROOT_EMAIL = uniqueEmail("root");
  /** In every address made here, and in no other. */
  const tag = `flt${randomUUID().slice(0, 8)}`;
  const made: { user: string; admin: string; disabled: string } = { user: "", admin: "", disabled: "" };
  let createdBetween = "";

  beforeAll(async () => {
    backend = await startStore(storeKind);
    api = await startApi(null, { ...backend.env, ADMIN_EMAIL: ROOT_EMAIL, ADMIN_PASSWORD: PASSWORD });
    root = await login(api.url, ROOT_EMAIL);
    made.user = (await register(api.url, { email: uniqueEmail(`${tag}-user`) })).user.id;
    await new Promise((resolve) => setTimeout(resolve, 5));
    createdBetween = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    made.admin = (await register(api.url, { email: uniqueEmail(`${tag}-admin`) })).user.id;
    made.disabled = (await register(api.url, { email: uniqueEmail(`${tag}-off`) })).user.id;
    const token = root.accessToken;
    expect((await send(api.url, SetUserRolesDocument, { userId: made.admin, roles: ["USER", "ADMIN"] }, { token })).error).toBeUndefined();
    expect((await send(api.url, SetUserDisabledDocument, { userId: made.disabled, disabled: true }, { token })).error).toBeUndefined();
  });
  afterAll(async () => {
    await api?.stop();
    await backend?.destroy();
  });

  const users = (filter: UserFilter, first = 50, after: string | null = null, token = root.accessToken) =>
    send(api.url, UsersDocument, { first, after, filter }, { token });
  const ids = async (filter: UserFilter) => {
    const result = await users(filter);
    expect(result.error).toBeUndefined();
    return { ids: result.data!.users.edges.map((edge) => edge.node.id), totalCount: result.data!.users.totalCount };
  };

  it("lists the users that meet every given condition, with their count", async () => {
    expect(await ids({ emailContains: tag })).toEqual({ ids: [made.user, made.admin, made.disabled], totalCount: 3 });
    expect(await ids({ emailContains: tag, role: "ADMIN" })).toEqual({ ids: [made.admin], totalCount: 1 });
    expect(await ids({ emailContains: tag, disabled: true })).toEqual({ ids: [made.disabled], totalCount: 1 });
    expect(await ids({ emailContains: tag, disabled: false, createdAfter: createdBetween })).toEqual({ ids: [made.admin], totalCount: 1 });
    expect(await ids({ emailContains: `${tag}-nobody` })).toEqual({ ids: [], totalCount: 0 });
  });

  it("matches the address in any case and width, as addresses are stored", async () => {
    expect(await ids({ emailContains: tag.toUpperCase() })).toMatchObject({ totalCount: 3 });
    const fullwidth = [...tag].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join("");
    expect(await ids({ emailContains: fullwidth })).toMatchObject({ totalCount: 3 });
  });

  it("pages through the matches with endCursor, each once", async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const result = await users({ emailContains: tag }, 1, after);
      const connection = result.data!.users;
      seen.push(...connection.edges.map((edge) => edge.node.id));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor!;
    }
    expect(seen).toEqual([made.user, made.admin, made.disabled]);
  });

  it("answers without totalCount when it is not asked, and with it through a fragment", async () => {
    const query = (selection: string, fragments = "") => post<{ users: { nodes: { id: string }[]; totalCount?: number } }>(
      api.url,
      { query: `query { users(first: 1, filter: { emailContains: "${tag}" }) { ${selection} } } ${fragments}` },
      { token: root.accessToken },
    );
    const bare = await query("nodes { id } pageInfo { hasNextPage }");
    expect(bare.errors).toBeUndefined();
    expect(bare.data?.users.nodes).toEqual([{ id: made.user }]);
    const counted = await query("nodes { id } ... on UserConnection { ...Count }", "fragment Count on UserConnection { totalCount }");
    expect(counted.errors).toBeUndefined();
    expect(counted.data?.users.totalCount).toBe(3);
  });

  it("is for ADMIN only", async () => {
    const user = await register(api.url);
    expect((await users({ emailContains: tag }, 50, null, user.accessToken)).error).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_ROLE" });
  });

  it("refuses a filter that is not one with BAD_USER_INPUT", async () => {
    for (const emailContains of ["", "a".repeat(255)]) {
      const result = await users({ emailContains });
      expect(result.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
      expect(result.error?.message).toMatch(/emailContains must be 1 to 254 characters/);
    }
    expect((await users({ emailContains: "a".repeat(254) })).error).toBeUndefined();
    expect((await users({ createdAfter: "yesterday" })).error).toMatchObject({ code: "BAD_USER_INPUT" });
    expect((await users({ role: "ROOT" as never })).error).toMatchObject({ code: "BAD_USER_INPUT" });
  });
});
