import { ConfigError, loadConfig } from "../../src/config";
import { availableParallelism } from "node:os";

const SECRET = "s".repeat(32);

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("configuration", () => {
  it("has the documented defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      redisUrl: null,
      accessTokenTtl: 900,
      refreshTokenTtl: 604_800,
      admin: null,
      nodeEnv: "development",
      revocationFailureMode: "closed",
      jwt: { algorithm: "HS256", secretGenerated: true },
    });
    expect(Buffer.byteLength(config.jwt.secret)).toBeGreaterThanOrEqual(32);
  });

  it("is frozen", () => {
    const config = loadConfig({ JWT_SECRET: SECRET });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.jwt)).toBe(true);
  });

  it("reads every variable", () => {
    const config = loadConfig({
      PORT: "8080",
      REDIS_URL: "redis://cache:6379/2",
      JWT_SECRET: SECRET,
      JWT_ISSUER: "iss",
      JWT_AUDIENCE: "aud",
      ACCESS_TOKEN_TTL: "60",
      REFRESH_TOKEN_TTL: "3600",
      ADMIN_EMAIL: " Root@Example.com ",
      ADMIN_PASSWORD: "long enough",
      NODE_ENV: "production",
      REVOCATION_FAILURE_MODE: "open",
    });
    expect(config).toMatchObject({
      port: 8080,
      redisUrl: "redis://cache:6379/2",
      jwt: { secret: SECRET, secretGenerated: false, issuer: "iss", audience: "aud" },
      accessTokenTtl: 60,
      refreshTokenTtl: 3600,
      admin: { email: "root@example.com", password: "long enough" },
      production: true,
      revocationFailureMode: "open",
    });
  });

  it.each([
    [{ PORT: "http" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ ACCESS_TOKEN_TTL: "-5" }, "ACCESS_TOKEN_TTL"],
    [{ ACCESS_TOKEN_TTL: "1.5" }, "ACCESS_TOKEN_TTL"],
    [{ REFRESH_TOKEN_TTL: "soon" }, "REFRESH_TOKEN_TTL"],
    [{ ACCESS_TOKEN_TTL: "3600", REFRESH_TOKEN_TTL: "600" }, "REFRESH_TOKEN_TTL"],
    [{ JWT_SECRET: "too-short" }, "JWT_SECRET"],
    [{ REDIS_URL: "localhost:6379" }, "REDIS_URL"],
    [{ ADMIN_EMAIL: "root@example.com" }, "ADMIN_PASSWORD"],
    [{ ADMIN_EMAIL: "not-an-email", ADMIN_PASSWORD: "long enough" }, "ADMIN_EMAIL"],
    [{ ADMIN_EMAIL: "root@example.com", ADMIN_PASSWORD: "short" }, "ADMIN_PASSWORD"],
    [{ REVOCATION_FAILURE_MODE: "sometimes" }, "REVOCATION_FAILURE_MODE"],
    [{ JWT_ALGORITHM: "none" }, "JWT_ALGORITHM"],
    [{ NODE_ENV: "production" }, "JWT_SECRET"],
  ])("refuses %j with a message naming %s", (env, variable) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(variable);
  });

  it("reports every problem at once", () => {
    expect(problemsOf({ PORT: "x", JWT_SECRET: "short", REDIS_URL: "nope" })).toHaveLength(3);
  });
});

describe("the EXPLORER switch", () => {
  it.each([
    [{}, true],
    [{ NODE_ENV: "test" }, true],
    [{ NODE_ENV: "production" }, false],
    [{ NODE_ENV: "production", EXPLORER: "on" }, true],
    [{ EXPLORER: "off" }, false],
    [{ EXPLORER: "" }, true],
  ])("with %j is %s", (env, explorer) => {
    expect(loadConfig({ JWT_SECRET: SECRET, ...env }).explorer).toBe(explorer);
  });

  it.each(["true", "ON", "1"])("refuses %j with a message naming EXPLORER", (value) => {
    const problems = problemsOf({ EXPLORER: value });
    expect(problems).toEqual([expect.stringContaining("EXPLORER")]);
  });
});

describe("the transport's variables", () => {
  it("listen on every interface, in one process, trusting no proxy, by default", () => {
    expect(loadConfig({ JWT_SECRET: SECRET })).toMatchObject({ host: "::", workers: 1, trustProxy: false });
  });

  it.each([
    [{ HOST: "127.0.0.1" }, { host: "127.0.0.1" }],
    [{ HOST: "api.internal" }, { host: "api.internal" }],
    [{ WORKERS: "3", REDIS_URL: "redis://cache:6379" }, { workers: 3 }],
    [{ TRUST_PROXY: "2" }, { trustProxy: 2 }],
    [{ TRUST_PROXY: "0" }, { trustProxy: false }],
    [{ TRUST_PROXY: "10.0.0.0/8, 192.168.1.7 ,::1, fd00::/8" }, { trustProxy: ["10.0.0.0/8", "192.168.1.7", "::1", "fd00::/8"] }],
    [{ UV_THREADPOOL_SIZE: "6" }, { threadPoolSize: 6 }],
  ])("reads %j", (env, expected) => {
    expect(loadConfig({ JWT_SECRET: SECRET, ...env })).toMatchObject(expected);
  });

  it("takes WORKERS=auto as one worker per CPU", () => {
    expect(loadConfig({ JWT_SECRET: SECRET, WORKERS: "auto", REDIS_URL: "redis://cache:6379" }).workers).toBe(availableParallelism());
  });

  it("leaves a core to the event loop when it sizes libuv's thread pool itself", () => {
    const { threadPoolSize } = loadConfig({ JWT_SECRET: SECRET });
    expect(threadPoolSize).toBe(Math.max(1, availableParallelism() - 1));
  });

  it.each([
    [{ HOST: "not a host!" }, "HOST"],
    [{ WORKERS: "0", REDIS_URL: "redis://cache:6379" }, "WORKERS"],
    [{ WORKERS: "many", REDIS_URL: "redis://cache:6379" }, "WORKERS"],
    [{ WORKERS: "2" }, "WORKERS greater than 1 needs REDIS_URL"],
    [{ TRUST_PROXY: "true" }, "TRUST_PROXY"],
    [{ TRUST_PROXY: "10.0.0.0/33" }, "TRUST_PROXY"],
    [{ TRUST_PROXY: "10.0.0.1, proxy.example.com" }, "TRUST_PROXY"],
    [{ UV_THREADPOOL_SIZE: "0" }, "UV_THREADPOOL_SIZE"],
  ])("refuses %j with a message naming %s", (env, variable) => {
    const problems = problemsOf({ JWT_SECRET: SECRET, ...env });
    expect(problems).toEqual([expect.stringContaining(variable)]);
  });
});
