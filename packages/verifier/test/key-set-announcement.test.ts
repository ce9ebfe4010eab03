import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { startApi, TEST_AUDIENCE, TEST_ISSUER, type TestApi } from "../../../test/support/api";
import { register } from "../../../test/support/client";
import { asymmetricEnv, newKey } from "../../../test/support/keys";
import { startRedis, type TestRedis } from "../../../test/support/redis";
import { createVerifier } from "../src";

/** The address verifiers know the auth API by (a load balancer): forwards the JWKS to whichever API is current. */
async function balancer(): Promise<{ url: string; target: string; close(): Promise<void> }> {
  const state = { target: "" };
  const server = http.createServer(async (_req, res) => {
    const answer = await fetch(`${state.target}/.well-known/jwks.json`);
    res.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

const origin = (api: TestApi) => new URL(api.url).origin;

describe("a key removed at the auth API", () => {
  let redis: TestRedis;
  let reader: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    reader = new Redis(redis.url);
  });
  afterAll(async () => {
    reader.disconnect();
    await redis.destroy();
  });

  it("is refused by a verifier within 5 s, though its JWKS cache is 300 s: the API announces its key set in Redis", async () => {
    const [compromised, current] = [newKey(), newKey()];
    const lb = await balancer();
    let api = await startApi(redis.url, asymmetricEnv([compromised, current], compromised));
    try {
      lb.target = origin(api);
      const verifier = createVerifier({ issuer: TEST_ISSUER, audience: TEST_AUDIENCE, keys: { url: lb.url, maxAgeMs: 300_000 }, redis: reader });
      const signedWithCompromised = (await register(api.url)).accessToken;
      expect((await verifier.verify(signedWithCompromised)).ok).toBe(true);

      // "Remove a compromised key at once": every instance restarts with the set that lacks it.
      await api.stop();
      api = await startApi(redis.url, asymmetricEnv([current]));
      lb.target = origin(api);
      const removedAt = Date.now();
      let outcome = await verifier.verify(signedWithCompromised);
      while (outcome.ok && Date.now() - removedAt < 10_000) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        outcome = await verifier.verify(signedWithCompromised);
      }
      expect(outcome).toMatchObject({ ok: false, reason: "INVALID_TOKEN" });
      expect(Date.now() - removedAt).toBeLessThan(5000);
      expect((await verifier.verify((await register(api.url)).accessToken)).ok).toBe(true);
    } finally {
      await api.stop();
      await lb.close();
    }
  }, 30_000);
});
