import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import pino from "pino";
import type { RedisConfig } from "../../src/config";
import { MeDocument } from "../../schema/generated/graphql";
import { singleNode, waitUntilConnected, createRedisClient } from "../../src/store/redis/connection";
import { createServer } from "node:net";
import { spawnApi, startApi, testEnv } from "../support/api";
import { register, send } from "../support/client";
import { freePort, startRedis, type TestRedis } from "../support/redis";
import { eventually } from "../support/redis-node";

const ENTRY = resolve(__dirname, "../../dist/index.js");

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.destroy());

describe("the Redis the service accepts", () => {
  it.each(["allkeys-lru", "volatile-ttl"])("refuses to start on a Redis with maxmemory-policy %s, saying what to set", async (policy) => {
    await redis.client.config("SET", "maxmemory-policy", policy);
    try {
      const result = spawnSync(process.execPath, [ENTRY], { env: { PATH: process.env.PATH ?? "", ...testEnv(redis.url) }, encoding: "utf8", timeout: 15_000 });
      expect(result.status).toBe(1);
      const output = result.stdout + result.stderr;
      expect(output).toContain(`maxmemory-policy ${policy}`);
      expect(output).toContain("Set maxmemory-policy noeviction");
    } finally {
      await redis.client.config("SET", "maxmemory-policy", "noeviction");
    }
  });

  it("starts with a warning naming what to check where CONFIG is not allowed, and logs in with the ACL user", async () => {
    // The live channel too: Redis 7 grants an ACL user no channel by default (docs/live.md).
    await redis.client.call("ACL", "SETUSER", "api", "on", ">api-password-123", "~*", "&auth:{live}:events", "+@all", "-config");
    const url = new URL(redis.url);
    const api = await spawnApi(null, {
      REDIS_URL: redis.url,
      REDIS_USERNAME: "api",
      REDIS_PASSWORD: "api-password-123",
      LOG_LEVEL: "info",
    });
    try {
      expect(api.output()).toMatch(/cannot read maxmemory-policy.*noeviction/);
      expect(api.output()).toContain(`${url.hostname}:${url.port}`);
      expect(api.output()).not.toContain("api-password-123");
      const user = await register(api.url);
      expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).data?.me.id).toBe(user.user.id);
      const clients = (await redis.client.client("LIST")) as string;
      expect(clients).toMatch(/user=api .*name=revocable-auth-api|name=revocable-auth-api.*user=api/);
    } finally {
      await api.stop();
    }
  });
});

describe("append-only persistence (REDIS_REQUIRE_AOF)", () => {
  /** What production needs besides Redis, on this machine. */
  const PRODUCTION = { NODE_ENV: "production", MFA_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"), MAIL_URL: "off", HOST: "localhost" };
  const startProcess = (env: Record<string, string>) =>
    spawnSync(process.execPath, [ENTRY], { env: { PATH: process.env.PATH ?? "", ...testEnv(redis.url, env) }, encoding: "utf8", timeout: 15_000 });

  async function withoutAof(run: () => Promise<void>): Promise<void> {
    await redis.client.config("SET", "appendonly", "no");
    try {
      await run();
    } finally {
      await redis.client.config("SET", "appendonly", "yes");
    }
  }

  it("refuses to start in production on a Redis with appendonly no, saying what to set", async () => {
    await withoutAof(async () => {
      const result = startProcess(PRODUCTION);
      expect(result.status).toBe(1);
      const url = new URL(redis.url);
      expect(result.stderr).toContain(`Redis at ${url.hostname}:${url.port} has appendonly no`);
      expect(result.stderr).toContain("Set appendonly yes");
      expect(result.stderr).toContain("REDIS_REQUIRE_AOF=off");
    });
  });

  it("starts with REDIS_REQUIRE_AOF=off, and outside production, warning about appendonly no", async () => {
    await withoutAof(async () => {
      for (const env of [{ ...PRODUCTION, REDIS_REQUIRE_AOF: "off" }, {}]) {
        const api = await spawnApi(redis.url, env);
        try {
          expect(api.output()).toMatch(/"appendonly":"no".*has appendonly no/);
          expect((await register(api.url)).user.id).toEqual(expect.any(String));
        } finally {
          await api.stop();
        }
      }
    });
    // And REDIS_REQUIRE_AOF=on refuses outside production too.
    await withoutAof(async () => expect(startProcess({ REDIS_REQUIRE_AOF: "on" }).status).toBe(1));
  });

  it("starts in production on appendonly yes, with no persistence warning", async () => {
    const api = await spawnApi(redis.url, PRODUCTION);
    try {
      expect(api.output()).not.toMatch(/appendonly/);
      expect(api.output()).toContain("auth API ready");
    } finally {
      await api.stop();
    }
  });

  it("reads it with INFO where CONFIG is not allowed, and fails closed when neither may be read", async () => {
    await redis.client.call("ACL", "SETUSER", "noconfig", "on", ">api-password-123", "~*", "&auth:{live}:events", "+@all", "-config");
    await redis.client.call("ACL", "SETUSER", "blind", "on", ">api-password-123", "~*", "&auth:{live}:events", "+@all", "-config", "-info");
    const as = (user: string, env: Record<string, string> = {}) => ({ ...PRODUCTION, REDIS_USERNAME: user, REDIS_PASSWORD: "api-password-123", ...env });
    const api = await spawnApi(redis.url, as("noconfig"));
    try {
      expect(api.output()).not.toMatch(/appendonly|append-only/);
    } finally {
      await api.stop();
    }
    await withoutAof(async () => {
      const result = startProcess(as("noconfig"));
      expect(result.status).toBe(1);
      expect(result.stderr).toContain("has appendonly no");
    });
    const blind = startProcess(as("blind"));
    expect(blind.status).toBe(1);
    expect(blind.stderr).toMatch(/Cannot read whether Redis at .* uses append-only persistence.*REDIS_REQUIRE_AOF=off/);
    const allowed = await spawnApi(redis.url, as("blind", { REDIS_REQUIRE_AOF: "off" }));
    try {
      expect(allowed.output()).toMatch(/"appendonly":"unknown".*Cannot read whether Redis/);
      expect(allowed.output()).not.toContain("api-password-123");
    } finally {
      await allowed.stop();
    }
  });
});

describe("a password Redis does not need", () => {
  const warning = /needs no password, but REDIS_(URL|PASSWORD) gives one/;

  it("warns, naming the node but not the password, when REDIS_URL carries a password and Redis has none", async () => {
    const url = new URL(redis.url);
    const api = await spawnApi(`redis://:unneeded-hunter2@${url.host}`);
    try {
      expect(api.output()).toMatch(warning);
      expect(api.output()).toContain(`Redis at ${url.hostname}:${url.port} needs no password`);
      expect(api.output()).not.toContain("unneeded-hunter2");
      expect((await register(api.url)).user.id).toEqual(expect.any(String));
    } finally {
      await api.stop();
    }
  });

  it("does not warn when Redis requires that password", async () => {
    await redis.client.config("SET", "requirepass", "needed-hunter2");
    try {
      const url = new URL(redis.url);
      const api = await spawnApi(`redis://:needed-hunter2@${url.host}`);
      try {
        expect(api.output()).toContain("auth API ready");
        expect(api.output()).not.toMatch(warning);
      } finally {
        await api.stop();
      }
    } finally {
      await redis.client.config("SET", "requirepass", "");
    }
  });
});

describe("the live channel's ACL", () => {
  it("refuses to start, naming the channel and the ACL rule, when the Redis user may not use the live channel", async () => {
    await redis.client.call("ACL", "SETUSER", "nochannel", "on", ">api-password-123", "~*", "resetchannels", "+@all", "-config");
    const result = spawnSync(process.execPath, [resolve(__dirname, "../../dist/index.js")], {
      env: { PATH: process.env.PATH ?? "", ...testEnv(redis.url, { PORT: "0", REDIS_USERNAME: "nochannel", REDIS_PASSWORD: "api-password-123" }) },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("ACL SETUSER <user> &auth:{live}:events");
  });
});

describe("waiting for Redis at start", () => {
  it.each(["cluster", "sentinel"] as const)("names the refused address and ECONNREFUSED in %s mode too", async (mode) => {
    const port = await freePort();
    const node = [{ host: "127.0.0.1", port }];
    const base = { username: null, password: null, tls: false, minReplicas: 0 };
    const config: RedisConfig = mode === "cluster" ? { mode, nodes: node, ...base } : { mode, sentinels: node, masterName: "auth", ...base };
    const lines: string[] = [];
    const client = createRedisClient(config, 500);
    const error = await waitUntilConnected(client, config, 2_500, pino({ level: "info" }, { write: (line: string) => lines.push(line) })).catch((e: Error) => e);
    expect((error as Error).message).toBe(`Redis did not answer within 2500 ms (last attempt: 127.0.0.1:${port}: ECONNREFUSED)`);
    expect(JSON.parse(lines[0]!)).toMatchObject({ mode, host: "127.0.0.1", port, cause: "ECONNREFUSED" });
  });

  it("gives up after the bound with an error naming host, port and cause, never the password", async () => {
    const port = await freePort();
    const config = singleNode(`redis://:hunter2-secret@127.0.0.1:${port}`);
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    const client = createRedisClient(config, 500);
    const error = await waitUntilConnected(client, config, 2_500, logger).catch((e: Error) => e);
    expect((error as Error).message).toBe(`Redis did not answer within 2500 ms (last attempt: 127.0.0.1:${port}: ECONNREFUSED)`);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(4);
    expect(lines.join("")).not.toContain("hunter2");
  });
});

describe("a start that fails once connected", () => {
  it("closes its Redis connections again: the port is taken", async () => {
    const holder = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve));
    try {
      const error = await startApi(redis.url, { PORT: String(port), HOST: "127.0.0.1" }).catch((e: NodeJS.ErrnoException) => e);
      expect((error as NodeJS.ErrnoException).code).toBe("EADDRINUSE");
    } finally {
      holder.close();
    }
    const ours = async () => String(await redis.client.client("LIST")).split("\n").filter((line) => line.includes("name=revocable-auth-api ")).length;
    await eventually("the failed start's connections are closed", async () => (await ours()) === 0, 5_000);
  });
});
