import { LogoutDocument, MeDocument } from "../../schema/generated/graphql";
import { CONNECTION_NAME } from "../../src/store/redis/redis-store";
import { startApi, type TestApi } from "../support/api";
import { post, register, send } from "../support/client";
import { boundSignIn, dpopHeaders, dpopKey, proof } from "../support/dpop";
import { commandsSentBy, startRedis, type TestRedis } from "../support/redis";

let redis: TestRedis;
let api: TestApi;

beforeAll(async () => {
  redis = await startRedis();
  api = await startApi(redis.url);
});
afterAll(async () => {
  await api.stop();
  await redis.destroy();
});

/** The commands the API's own connection sends to Redis while `work` runs, seen with MONITOR. */
const commandsSentDuring = (work: () => Promise<unknown>) => commandsSentBy(redis, CONNECTION_NAME, work);

describe("the per-request revocation check", () => {
  it("costs exactly one Redis round trip per authenticated request", async () => {
    const user = await register(api.url);
    const requests = 25;
    const commands = await commandsSentDuring(async () => {
      for (let i = 0; i < requests; i++) {
        const result = await send(api.url, MeDocument, {}, { token: user.accessToken });
        expect(result.data?.me.id).toBe(user.user.id);
      }
    });
    expect(commands).toEqual(Array(requests).fill("mget"));
  });

  it("costs one Redis command for a DPoP-bound request too: the replay check rides in the revocation read", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(api.url, key);
    const token = auth.accessToken;
    const bound = async () => {
      const result = await send(api.url, MeDocument, {}, { headers: dpopHeaders(token, await proof(key, { htu: api.url, accessToken: token })) });
      expect(result.data?.me.id).toBe(auth.user.id);
    };
    await bound(); // loads the script (EVALSHA, then EVAL once on NOSCRIPT)
    const requests = 10;
    const commands = await commandsSentDuring(async () => {
      for (let i = 0; i < requests; i++) await bound();
    });
    expect(commands).toEqual(Array(requests).fill("evalsha"));
  });

  it("costs no round trip for an anonymous request or a token refused on its signature", async () => {
    const commands = await commandsSentDuring(async () => {
      await post(api.url, { query: "{ __typename }" });
      await send(api.url, MeDocument, {}, { token: "eyJ.eyJ.bad" });
    });
    expect(commands).toEqual([]);
  });

  it("refuses a revoked token with the same single round trip", async () => {
    const user = await register(api.url);
    await send(api.url, LogoutDocument, {}, { token: user.accessToken });
    const commands = await commandsSentDuring(async () => {
      expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).status).toBe(401);
    });
    expect(commands).toEqual(["mget"]);
  });
});
