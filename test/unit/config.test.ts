import { ConfigError, loadConfig } from "../../src/config";

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
    [{ NODE_ENV: "production", REDIS_URL: "redis://cache:6379" }, "JWT_SECRET"],
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
    [{ NODE_ENV: "production", REDIS_URL: "redis://cache:6379" }, false],
    [{ NODE_ENV: "production", REDIS_URL: "redis://cache:6379", EXPLORER: "on" }, true],
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

describe("Redis connection modes", () => {
  const base = { JWT_SECRET: SECRET };

  it("reads a cluster's seed nodes", () => {
    const config = loadConfig({ ...base, REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b:7001,[::1]:7002", REDIS_PASSWORD: "pw", REDIS_TLS: "on" });
    expect(config.redis).toEqual({
      mode: "cluster",
      nodes: [{ host: "10.0.0.1", port: 7000 }, { host: "redis-b", port: 7001 }, { host: "::1", port: 7002 }],
      username: null,
      password: "pw",
      tls: true,
      minReplicas: 0,
    });
    expect(config.redisUrl).toBeNull();
  });

  it("reads sentinels, the master name, the ACL user and REDIS_MIN_REPLICAS", () => {
    const config = loadConfig({ ...base, REDIS_SENTINELS: "s1:26379,s2:26379", REDIS_SENTINEL_MASTER: "auth", REDIS_USERNAME: "api", REDIS_MIN_REPLICAS: "1" });
    expect(config.redis).toMatchObject({ mode: "sentinel", sentinels: [{ host: "s1", port: 26379 }, { host: "s2", port: 26379 }], masterName: "auth", username: "api", minReplicas: 1 });
  });

  it("keeps REDIS_URL as the single-node mode", () => {
    expect(loadConfig({ ...base, REDIS_URL: "redis://cache:6379" }).redis).toMatchObject({ mode: "single", url: "redis://cache:6379", minReplicas: 0, tls: false });
  });

  it.each([
    [{ REDIS_URL: "redis://a:6379", REDIS_CLUSTER_NODES: "b:7000" }, ["REDIS_URL and REDIS_CLUSTER_NODES"]],
    [{ REDIS_CLUSTER_NODES: "b:7000", REDIS_SENTINELS: "s:26379", REDIS_SENTINEL_MASTER: "m" }, ["REDIS_CLUSTER_NODES and REDIS_SENTINELS"]],
    [{ REDIS_CLUSTER_NODES: "b:7000,c" }, ["REDIS_CLUSTER_NODES"]],
    [{ REDIS_CLUSTER_NODES: "b:99999" }, ["REDIS_CLUSTER_NODES"]],
    [{ REDIS_CLUSTER_NODES: "," }, ["REDIS_CLUSTER_NODES"]],
    [{ REDIS_SENTINELS: "s:26379" }, ["REDIS_SENTINEL_MASTER"]],
    [{ REDIS_SENTINELS: "s:x", REDIS_SENTINEL_MASTER: "m" }, ["REDIS_SENTINELS"]],
    [{ REDIS_SENTINEL_MASTER: "m" }, ["REDIS_SENTINEL_MASTER"]],
    [{ REDIS_URL: "redis://a:6379", REDIS_MIN_REPLICAS: "-1" }, ["REDIS_MIN_REPLICAS"]],
    [{ REDIS_URL: "redis://a:6379", REDIS_TLS: "yes" }, ["REDIS_TLS"]],
    [{ REDIS_PASSWORD: "pw" }, ["REDIS_PASSWORD"]],
  ])("refuses %j naming the variable", (env, names) => {
    const problems = problemsOf({ ...base, ...env });
    expect(problems).toHaveLength(names.length);
    names.forEach((name, i) => expect(problems[i]).toContain(name));
  });

  it("refuses production without any Redis, together with every other problem", () => {
    const problems = problemsOf({ NODE_ENV: "production", PORT: "x" });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining("JWT_SECRET is required"),
        expect.stringContaining("PORT"),
        expect.stringMatching(/REDIS_URL .*REDIS_CLUSTER_NODES.*REDIS_SENTINELS.* is required when NODE_ENV=production/),
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it("accepts production with a cluster", () => {
    expect(loadConfig({ ...base, NODE_ENV: "production", REDIS_CLUSTER_NODES: "a:7000" }).production).toBe(true);
  });
});
