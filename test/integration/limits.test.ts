import { getIntrospectionQuery } from "graphql";
import { CONNECTION_NAME } from "../../src/store/redis/redis-store";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, post, register, uniqueEmail } from "../support/client";
import { commandsSentBy, startRedis, type TestRedis } from "../support/redis";

let redis: TestRedis;
const apis: TestApi[] = [];
const ADMIN_EMAIL = uniqueEmail("admin");

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const api of apis) await api.stop();
  await redis.destroy();
});

async function start(env: Record<string, string> = {}): Promise<TestApi> {
  const api = await startApi(redis.url, { ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, ...env });
  apis.push(api);
  return api;
}

/** The commands the API's own connections send to Redis while `work` runs, seen with MONITOR. */
const commandsSentDuring = (work: () => Promise<unknown>) => commandsSentBy(redis, CONNECTION_NAME, work);

const aliases = (count: number, field: string) =>
  `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field} { id }`).join(" ")} }`;

function expectRefused(result: Awaited<ReturnType<typeof post>>, limit: RegExp) {
  expect(result.status).toBe(400);
  expect(result.error?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  expect(result.error?.message).toMatch(limit);
  expect(result.data ?? null).toBeNull();
}

describe("bounded work per request, with the default limits", () => {
  let api: TestApi;
  let user: Awaited<ReturnType<typeof register>>;
  beforeAll(async () => {
    api = await start();
    user = await register(api.url);
  });

  it("refuses 1,000 aliases of sessions with no store read beyond the token check", async () => {
    const commands = await commandsSentDuring(async () => {
      expectRefused(await post(api.url, { query: aliases(1000, "sessions") }, { token: user.accessToken }), /MAX_TOKENS/);
    });
    expect(commands).toEqual(["mget"]);
  });

  it("does not take automatic persisted queries: a client cannot fill the query cache, nor cause a 500", async () => {
    const persisted = (sha256Hash: string, query?: string) =>
      post(api.url, { query, extensions: { persistedQuery: { version: 1, sha256Hash } } });
    for (const result of [await persisted("x", "{ __typename }"), await persisted("0".repeat(64))]) {
      // Apollo's persisted-query protocol answers this with 200, so clients fall back to sending the query.
      expect(result.status).toBe(200);
      expect(result.error?.code).toBe("PERSISTED_QUERY_NOT_SUPPORTED");
      expect(result.data ?? null).toBeNull();
    }
  });

  it("refuses more aliases than MAX_ALIASES, naming the limit", async () => {
    const commands = await commandsSentDuring(async () => {
      expectRefused(await post(api.url, { query: aliases(16, "me") }, { token: user.accessToken }), /Aliases limit of 15 .*\(MAX_ALIASES\)/);
    });
    expect(commands).toEqual(["mget"]);
  });

  it("refuses a store list asked for twice in one operation, even under the alias limit", async () => {
    expectRefused(await post(api.url, { query: aliases(2, "sessions") }, { token: user.accessToken }), /sessions may appear at most once/);
    const viaFragment = "query { sessions { id } ...F } fragment F on Query { again: sessions { id } }";
    expectRefused(await post(api.url, { query: viaFragment }, { token: user.accessToken }), /sessions may appear at most once/);
  });

  it("refuses an admin's users asked for 20 times, with no store read beyond the token check", async () => {
    const admin = await login(api.url, ADMIN_EMAIL);
    const commands = await commandsSentDuring(async () => {
      expectRefused(await post(api.url, { query: aliases(20, "users") }, { token: admin.accessToken }), /MAX_ALIASES|users may appear/);
    });
    expect(commands).toEqual(["mget"]);
  });

  it("reads the store once for an allowed sessions query", async () => {
    const commands = await commandsSentDuring(async () => {
      const result = await post<{ sessions: { id: string }[] }>(api.url, { query: "{ sessions { id } }" }, { token: user.accessToken });
      expect(result.data?.sessions.map((s) => s.id)).toContain(user.sessionId);
    });
    // The token check, then the list: the session ids, then the sessions themselves.
    expect(commands).toEqual(["mget", "zrangebyscore", "mget"]);
  });

  it("refuses a 64 KB query at the token limit, while parsing", async () => {
    const query = `{ ${"__typename ".repeat(5900)}}`;
    expect(query.length).toBeGreaterThan(64_000);
    const commands = await commandsSentDuring(async () => {
      expectRefused(await post(api.url, { query }), /Token limit of 1000 exceeded \(MAX_TOKENS\)/);
    });
    expect(commands).toEqual([]);
  });

  it("keeps the one-credential-mutation rule", async () => {
    const query = `mutation { a: login(input: {email: "a@example.com", password: "${PASSWORD}"}) { sessionId } b: login(input: {email: "b@example.com", password: "${PASSWORD}"}) { sessionId } }`;
    expectRefused(await post(api.url, { query }), /At most one of register, login, refresh and changePassword/);
  });

  it("lets the explorer's introspection query through", async () => {
    const result = await post<{ __schema: unknown }>(api.url, { query: getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }) });
    expect(result.status).toBe(200);
    expect(result.data?.__schema).toBeDefined();
  });
});

describe("configured limits", () => {
  it("refuses 1,000 aliases of sessions at the alias limit when the token limit lets them through, reading nothing", async () => {
    const api = await start({ MAX_TOKENS: "100000" });
    const user = await register(api.url);
    const commands = await commandsSentDuring(async () => {
      expectRefused(await post(api.url, { query: aliases(1000, "sessions") }, { token: user.accessToken }), /\(MAX_ALIASES\)/);
    });
    expect(commands).toEqual(["mget"]);
  });

  it("refuses an operation deeper than MAX_DEPTH", async () => {
    const api = await start({ MAX_DEPTH: "2" });
    const query = `mutation { login(input: {email: "a@example.com", password: "${PASSWORD}"}) { user { id } } }`;
    expectRefused(await post(api.url, { query }), /depth limit of 2 .*\(MAX_DEPTH\)/);
  });

  it("refuses an operation that costs more than MAX_COST", async () => {
    const api = await start({ MAX_COST: "5" });
    expectRefused(await post(api.url, { query: "{ me { id email roles createdAt disabled } }" }), /Cost limit of 5 .*\(MAX_COST\)/);
  });
});

describe("field suggestions", () => {
  const typo = { query: "{ mee { id } }" };

  it("are hidden when introspection is off", async () => {
    const api = await start({ EXPLORER: "off" });
    const result = await post(api.url, typo);
    expect(result.status).toBe(400);
    expect(result.error?.message).toMatch(/Cannot query field "mee"/);
    expect(result.error?.message).not.toMatch(/Did you mean/);
    expect(result.error?.message).not.toMatch(/"me"/);
    const unknownType = await post(api.url, { query: "query { me { ...F } } fragment F on Usr { id }" });
    expect(unknownType.error?.message).toBe('Unknown type "Usr".');
  });

  it("are given when the explorer and introspection are on", async () => {
    const api = await start({ EXPLORER: "on" });
    expect((await post(api.url, typo)).error?.message).toMatch(/Did you mean "me"\?/);
    expect((await post(api.url, { query: "query { me { ...F } } fragment F on Usr { id }" })).error?.message).toMatch(/Did you mean "User"\?/);
  });
});
