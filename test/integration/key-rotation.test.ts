import { MeDocument, RefreshDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { register, send } from "../support/client";
import { asymmetricEnv, headerOf, newKey } from "../support/keys";
import { startRedis, type TestRedis } from "../support/redis";

/**
 * Rotation without logouts, step by step as docs/keys.md describes it. Each step is a new
 * instance on the same Redis (a rolling deploy); instances of neighbouring steps run side by side.
 */
let redis: TestRedis;
const running: TestApi[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(running.map((api) => api.stop()));
  await redis.destroy();
});

async function instance(env: Record<string, string>): Promise<TestApi> {
  const api = await startApi(redis.url, env);
  running.push(api);
  return api;
}

async function accepted(api: TestApi, accessToken: string): Promise<boolean> {
  const result = await send(api.url, MeDocument, {}, { token: accessToken });
  if (result.status !== 200) expect(result.error?.reason).toBe("INVALID_TOKEN");
  return result.status === 200;
}

async function refresh(api: TestApi, refreshToken: string) {
  const result = await send(api.url, RefreshDocument, { refreshToken });
  if (!result.data?.refresh) throw new Error(`refresh failed: ${JSON.stringify(result.errors)}`);
  return { accessToken: result.data.refresh.accessToken, refreshToken: result.data.refresh.refreshToken! };
}

const jwksKids = async (api: TestApi) =>
  ((await (await fetch(`http://localhost:${api.port}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);

it("rotates an ES256 signing key in three steps; every token keeps working until it expires, every session keeps refreshing", async () => {
  const [oldKey, nextKey] = [newKey("ES256"), newKey("ES256")];
  const before = await instance(asymmetricEnv([oldKey]));
  const session = await register(before.url);
  let tokens = { accessToken: session.accessToken, refreshToken: session.refreshToken! };
  expect(headerOf(tokens.accessToken).kid).toBe(oldKey.kid);

  // 1. Publish the next key: in the set, not signing.
  const published = await instance(asymmetricEnv([oldKey, nextKey], oldKey));
  expect(await jwksKids(published)).toEqual([oldKey.kid, nextKey.kid]);
  expect(await accepted(published, tokens.accessToken)).toBe(true);
  tokens = await refresh(published, tokens.refreshToken);
  expect(headerOf(tokens.accessToken).kid).toBe(oldKey.kid);
  expect(await accepted(before, tokens.accessToken)).toBe(true);

  // 2. Switch JWT_SIGNING_KID: new tokens come from the next key; tokens of the old one still work.
  const switched = await instance(asymmetricEnv([oldKey, nextKey], nextKey));
  const issuedUnderOld = tokens.accessToken;
  expect(await accepted(switched, issuedUnderOld)).toBe(true);
  tokens = await refresh(switched, tokens.refreshToken);
  expect(headerOf(tokens.accessToken).kid).toBe(nextKey.kid);
  expect(headerOf(tokens.refreshToken).kid).toBe(nextKey.kid);
  // Instances still at step 1 already hold the next key, so they accept what step 2 signs.
  expect(await accepted(published, tokens.accessToken)).toBe(true);
  tokens = await refresh(published, tokens.refreshToken);
  const fresh = await register(switched.url);
  expect(headerOf(fresh.accessToken).kid).toBe(nextKey.kid);

  // 3. Remove the old key once nothing it signed can be alive: the session refreshed across it.
  const after = await instance(asymmetricEnv([nextKey]));
  expect(await jwksKids(after)).toEqual([nextKey.kid]);
  tokens = await refresh(switched, tokens.refreshToken);
  expect(await accepted(after, tokens.accessToken)).toBe(true);
  tokens = await refresh(after, tokens.refreshToken);
  expect(await accepted(after, tokens.accessToken)).toBe(true);
  expect(await accepted(after, fresh.accessToken)).toBe(true);
  // What the old key signed is refused once it is gone (in a real rotation it has expired by then).
  expect(await accepted(after, issuedUnderOld)).toBe(false);
});

it("rotates an HMAC secret the same way with JWT_PREVIOUS_SECRETS", async () => {
  const [oldSecret, nextSecret] = ["old-secret-that-is-long-enough-for-hs256-0123", "next-secret-that-is-long-enough-for-hs256-012"];
  const before = await instance({ JWT_SECRET: oldSecret });
  const session = await register(before.url);
  let tokens = { accessToken: session.accessToken, refreshToken: session.refreshToken! };

  const published = await instance({ JWT_SECRET: oldSecret, JWT_PREVIOUS_SECRETS: nextSecret });
  expect(await accepted(published, tokens.accessToken)).toBe(true);

  const switched = await instance({ JWT_SECRET: nextSecret, JWT_PREVIOUS_SECRETS: oldSecret });
  const issuedUnderOld = tokens.accessToken;
  expect(await accepted(switched, issuedUnderOld)).toBe(true);
  tokens = await refresh(switched, tokens.refreshToken);
  expect(headerOf(tokens.accessToken).kid).not.toBe(headerOf(issuedUnderOld).kid);
  expect(await accepted(published, tokens.accessToken)).toBe(true);

  const after = await instance({ JWT_SECRET: nextSecret });
  tokens = await refresh(after, tokens.refreshToken);
  expect(await accepted(after, tokens.accessToken)).toBe(true);
  expect(await accepted(after, issuedUnderOld)).toBe(false);
});
