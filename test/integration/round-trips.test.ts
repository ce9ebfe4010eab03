import { Redis } from "ioredis";
import { LogoutDocument, MeDocument } from "../../schema/generated/graphql";
import { CONNECTION_NAME } from "../../src/store/redis/redis-store";
import { startApi, type TestApi } from "../support/api";
import { post, register, send } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

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

/** Counts the commands the API's own connection sends to Redis while `work` runs, with MONITOR. */
async function commandsSentDuring(work: () => Promise<void>): Promise<string[]> {
  const clients = (await redis.client.client("LIST")) as string;
  const line = clients.split("\n").find((l) => l.includes(`name=${CONNECTION_NAME}`));
  const address = /addr=(\S+)/.exec(line ?? "")?.[1];
  if (!address) throw new Error(`no API connection in CLIENT LIST:\n${clients}`);
  const monitorClient = new Redis(redis.url);
  const monitor = await monitorClient.monitor();
  const seen: string[] = [];
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    if (source.endsWith(address)) seen.push(args[0]!.toLowerCase());
  });
  await work();
  await new Promise((resolve) => setTimeout(resolve, 100));
  monitor.disconnect();
  monitorClient.disconnect();
  return seen;
}

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
