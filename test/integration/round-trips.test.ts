import { keys } from "@revocable-auth/verifier/internal";
import { LoginDocument, LogoutDocument, MeDocument, RefreshWithCookieDocument, SetUserDisabledDocument, SetUserRolesDocument } from "../../schema/generated/graphql";
import { CONNECTION_NAME } from "../../src/store/redis/redis-store";
import type { TestApi } from "../support/api";
import { login, PASSWORD, post, register, send, uniqueEmail } from "../support/client";
import { boundSignIn, dpopHeaders, dpopKey, proof } from "../support/dpop";
import { CookieJar, signInAtProvider, startApiWithProvider, visit, type TestProvider } from "../support/oidc";
import { commandsSentBy, startRedis, type TestRedis } from "../support/redis";

let redis: TestRedis;
let api: TestApi;
/** A real oidc-provider as the sign-in provider `corp`: a provider session's requests are counted too. */
let provider: TestProvider;
let origin: string;

const rootEmail = uniqueEmail("root");
const federated = { login: "federated", email: uniqueEmail("federated") };

beforeAll(async () => {
  redis = await startRedis();
  ({ api, provider, origin } = await startApiWithProvider({
    redisUrl: redis.url,
    accounts: { [federated.login]: { email: federated.email, email_verified: true } },
    env: { ADMIN_EMAIL: rootEmail, ADMIN_PASSWORD: PASSWORD },
  }));
}, 60_000);
afterAll(async () => {
  await api.stop();
  await provider.stop();
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

  it("costs one Redis round trip for a provider sign-in's token too: the sign-in adds no work to the request path", async () => {
    const jar = new CookieJar();
    const start = await visit(jar, `${origin}/auth/oidc/corp/start?redirect_to=${encodeURIComponent("http://localhost:3000/")}`);
    const done = await visit(jar, await signInAtProvider(jar, start.headers.get("location")!, federated.login, `${origin}/auth/oidc/corp/callback`));
    const refresh = /refresh_token=([^;]+)/.exec(done.headers.getSetCookie().join("\n"))![1];
    const token = (await send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie: `refresh_token=${refresh}` } })).data!.refresh.accessToken;
    const requests = 10;
    const commands = await commandsSentDuring(async () => {
      for (let i = 0; i < requests; i++) expect((await send(api.url, MeDocument, {}, { token })).data?.me.email).toBe(federated.email);
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

describe("the compact access record the check reads", () => {
  it("is what the check reads: the JSON record is not on the request path", async () => {
    const user = await register(api.url);
    const id = user.user.id;
    expect(await redis.client.get(keys.accessRecord(id))).toMatch(new RegExp(`^1\\|0\\|0[-0][-0]\\|\\d+\\|USER\\|${user.user.email.replace(/[.+]/g, "\\$&")}$`));
    // A JSON record changed behind the API's back is not what a request sees.
    await redis.client.set(keys.user(id), JSON.stringify({ ...user.user, roles: ["USER", "ADMIN"], createdAt: 0 }));
    expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).data?.me.roles).toEqual(["USER"]);
  });

  it("follows every change of roles and the disabled flag, with the access version", async () => {
    const root = await login(api.url, rootEmail);
    const user = await register(api.url);
    const id = user.user.id;
    await send(api.url, SetUserRolesDocument, { userId: id, roles: ["USER", "ADMIN"] }, { token: root.accessToken });
    expect(await redis.client.get(keys.accessRecord(id))).toMatch(/^1\|1\|0[-0][-0]\|\d+\|USER,ADMIN\|/);
    expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).data?.me.roles).toEqual(["USER", "ADMIN"]);
    await send(api.url, SetUserDisabledDocument, { userId: id, disabled: true }, { token: root.accessToken });
    expect(await redis.client.get(keys.accessRecord(id))).toMatch(/^1\|2\|1[-0][-0]\|/);
  });

  it("survives an upgrade in place: a user with only the JSON record keeps their session and roles, converted on first read", async () => {
    const root = await login(api.url, rootEmail);
    const user = await register(api.url);
    const id = user.user.id;
    await send(api.url, SetUserRolesDocument, { userId: id, roles: ["USER", "ADMIN"] }, { token: root.accessToken });
    // What a Redis written by the previous release holds: the JSON record, no access record.
    await redis.client.del(keys.accessRecord(id));
    const first = await commandsSentDuring(async () => {
      expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).data?.me).toMatchObject({ id, roles: ["USER", "ADMIN"] });
    });
    // The conversion script: EVALSHA, or EVAL the first time it runs on this server.
    expect(first).toEqual(["mget", expect.stringMatching(/^eval(sha)?$/)]);
    expect(await redis.client.get(keys.accessRecord(id))).toMatch(/^1\|1\|0[-0][-0]\|\d+\|USER,ADMIN\|/);
    const then = await commandsSentDuring(async () => {
      expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).data?.me.roles).toEqual(["USER", "ADMIN"]);
    });
    expect(then).toEqual(["mget"]);
  });

  it("converts a disabled user's record as disabled: the upgrade lets no refused token back in", async () => {
    const user = await register(api.url);
    const id = user.user.id;
    const record = JSON.parse((await redis.client.get(keys.user(id)))!) as Record<string, unknown>;
    // A record the previous release disabled; its sessions would have ended too, this one is kept to see the flag alone refuse.
    await redis.client.set(keys.user(id), JSON.stringify({ ...record, disabled: true }));
    await redis.client.del(keys.accessRecord(id));
    expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).status).toBe(401);
    expect((await send(api.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD } })).error).toBeDefined();
  });
});
