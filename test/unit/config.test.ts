import { ConfigError, loadConfig, loadDatabaseConfig } from "../../src/config";
import { generatePrivateJwk } from "../../src/auth/tokens/signing-keys";
import { keysFile } from "../support/keys";
import { availableParallelism } from "node:os";

const SECRET = "s".repeat(32);
const MFA_KEY = Buffer.alloc(32, 7).toString("base64");

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

  it("keeps the audit trail 90 days and 1000 events a user by default, and checks the bounds", () => {
    expect(loadConfig({}).audit).toEqual({ retentionDays: 90, maxEventsPerUser: 1000, maxEvents: 1_000_000 });
    expect(loadConfig({ AUDIT_RETENTION_DAYS: "7", AUDIT_MAX_EVENTS_PER_USER: "50", AUDIT_MAX_EVENTS: "5000" }).audit).toEqual({
      retentionDays: 7,
      maxEventsPerUser: 50,
      maxEvents: 5000,
    });
    expect(problemsOf({ AUDIT_RETENTION_DAYS: "0", AUDIT_MAX_EVENTS_PER_USER: "lots" })).toEqual([
      expect.stringMatching(/^AUDIT_RETENTION_DAYS must be a whole number/),
      expect.stringMatching(/^AUDIT_MAX_EVENTS_PER_USER must be a whole number/),
    ]);
  });

  it("counts a sign-in as recent for 300 s by default (REAUTH_MAX_AGE_SECONDS), from 1 s to a day", () => {
    expect(loadConfig({}).reauthMaxAgeSeconds).toBe(300);
    expect(loadConfig({ REAUTH_MAX_AGE_SECONDS: "60" }).reauthMaxAgeSeconds).toBe(60);
    for (const value of ["0", "86401", "5m"]) {
      expect(problemsOf({ REAUTH_MAX_AGE_SECONDS: value })).toEqual([expect.stringMatching(/^REAUTH_MAX_AGE_SECONDS must be a whole number/)]);
    }
  });

  it("turns tracing on with OTEL_EXPORTER_OTLP_ENDPOINT only, and refuses an endpoint that is not a URL", () => {
    expect(loadConfig({}).tracing).toBeNull();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }).tracing).toEqual({
      endpoint: "http://collector:4318",
      serviceName: "revocable-auth-api",
      sampler: { name: "parentbased_always_on", ratio: 1 },
      protocol: "http/protobuf",
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://c/v1/traces", OTEL_SERVICE_NAME: "auth" }).tracing).toEqual({
      endpoint: "https://c/v1/traces",
      serviceName: "auth",
      sampler: { name: "parentbased_always_on", ratio: 1 },
      protocol: "http/protobuf",
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" }).tracing).toBeNull();
    expect(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4317" })).toEqual([expect.stringMatching(/^OTEL_EXPORTER_OTLP_ENDPOINT must be an http/)]);
  });

  it("reads OTEL_TRACES_SAMPLER and its ratio, OTEL_TRACES_SAMPLER_ARG, when tracing is on", () => {
    const sampler = (env: Record<string, string>) => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", ...env }).tracing?.sampler;
    expect(sampler({ OTEL_TRACES_SAMPLER: "always_off" })).toEqual({ name: "always_off", ratio: 1 });
    expect(sampler({ OTEL_TRACES_SAMPLER: " ParentBased_TraceIdRatio ", OTEL_TRACES_SAMPLER_ARG: "0.1" })).toEqual({ name: "parentbased_traceidratio", ratio: 0.1 });
    expect(sampler({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" })).toEqual({ name: "traceidratio", ratio: 0 });
    expect(sampler({ OTEL_TRACES_SAMPLER: "traceidratio" })).toEqual({ name: "traceidratio", ratio: 1 });
    // Off, they are not read.
    expect(loadConfig({ OTEL_TRACES_SAMPLER: "sometimes" }).tracing).toBeNull();
  });

  it("reads OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, then OTEL_EXPORTER_OTLP_PROTOCOL, http/protobuf by default, and refuses grpc", () => {
    const protocol = (env: Record<string, string>) => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", ...env }).tracing?.protocol;
    expect(protocol({})).toBe("http/protobuf");
    expect(protocol({ OTEL_EXPORTER_OTLP_PROTOCOL: " HTTP/JSON " })).toBe("http/json");
    expect(protocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf" })).toBe("http/protobuf");
    expect(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toEqual([
      'OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (OTLP over HTTP, port 4318), got "grpc"',
    ]);
    expect(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "json" })).toEqual([expect.stringMatching(/^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be/)]);
    // Off, it is not read.
    expect(loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }).tracing).toBeNull();
  });

  it("refuses an unknown sampler, a ratio outside 0..1, and a ratio for a sampler that takes none", () => {
    const problems = (env: Record<string, string>) => problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", ...env });
    expect(problems({ OTEL_TRACES_SAMPLER: "jaeger_remote" })).toEqual([expect.stringMatching(/^OTEL_TRACES_SAMPLER must be one of always_on, .*parentbased_traceidratio, got "jaeger_remote"/)]);
    for (const arg of ["1.5", "-0.1", "ten percent", "0x1", "NaN"]) {
      expect(problems({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: arg })).toEqual([`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1 (the share of traces kept), got "${arg}"`]);
    }
    expect(problems({ OTEL_TRACES_SAMPLER_ARG: "0.1" })).toEqual([expect.stringMatching(/^OTEL_TRACES_SAMPLER_ARG is the ratio of traceidratio and parentbased_traceidratio; OTEL_TRACES_SAMPLER=parentbased_always_on takes none/)]);
  });

  it("requires append-only Redis (REDIS_REQUIRE_AOF) by default in production only, and reads on/off", () => {
    const production = { NODE_ENV: "production", MAIL_URL: "off", MFA_ENCRYPTION_KEY: MFA_KEY, JWT_SECRET: SECRET, REDIS_URL: "redis://cache:6379" };
    expect(loadConfig(production).redisRequireAof).toBe(true);
    expect(loadConfig({ ...production, REDIS_REQUIRE_AOF: "off" }).redisRequireAof).toBe(false);
    expect(loadConfig({ REDIS_URL: "redis://cache:6379" }).redisRequireAof).toBe(false);
    expect(loadConfig({ REDIS_URL: "redis://cache:6379", REDIS_REQUIRE_AOF: "on" }).redisRequireAof).toBe(true);
    expect(problemsOf({ REDIS_URL: "redis://cache:6379", REDIS_REQUIRE_AOF: "yes" })).toEqual([expect.stringMatching(/^REDIS_REQUIRE_AOF/)]);
    expect(problemsOf({ REDIS_REQUIRE_AOF: "on" })).toEqual([expect.stringMatching(/^REDIS_REQUIRE_AOF needs REDIS_URL/)]);
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
      NODE_ENV: "production", MAIL_URL: "off", MFA_ENCRYPTION_KEY: MFA_KEY,
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
    [{ REFRESH_REUSE_GRACE_SECONDS: "301" }, "REFRESH_REUSE_GRACE_SECONDS"],
    [{ REFRESH_REUSE_GRACE_SECONDS: "-1" }, "REFRESH_REUSE_GRACE_SECONDS"],
    [{ NODE_ENV: "production", MAIL_URL: "off", MFA_ENCRYPTION_KEY: MFA_KEY, REDIS_URL: "redis://cache:6379" }, "JWT_SECRET"],
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
    [{ NODE_ENV: "production", MAIL_URL: "off", MFA_ENCRYPTION_KEY: MFA_KEY, REDIS_URL: "redis://cache:6379" }, false],
    [{ NODE_ENV: "production", MAIL_URL: "off", MFA_ENCRYPTION_KEY: MFA_KEY, REDIS_URL: "redis://cache:6379", EXPLORER: "on" }, true],
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

describe("REFRESH_REUSE_GRACE_SECONDS", () => {
  it.each([
    [{}, 10],
    [{ REFRESH_REUSE_GRACE_SECONDS: "0" }, 0],
    [{ REFRESH_REUSE_GRACE_SECONDS: "30" }, 30],
    [{ REFRESH_REUSE_GRACE_SECONDS: "" }, 10],
  ])("with %j is %s seconds", (env, seconds) => {
    expect(loadConfig({ JWT_SECRET: SECRET, ...env }).refreshReuseGraceSeconds).toBe(seconds);
  });
});

describe("signing keys", () => {
  const es256 = () => generatePrivateJwk("ES256");

  it("under ES256 with no JWT_KEYS_FILE makes one key for this process outside production", () => {
    const config = loadConfig({ JWT_ALGORITHM: "ES256" });
    expect(config.jwt).toMatchObject({ algorithm: "ES256", keysGenerated: true, secretGenerated: false });
    expect(config.jwt.keys).toHaveLength(1);
    expect(config.jwt.signingKid).toBe(config.jwt.keys[0]!.kid);
  });

  it("refuses production under ES256 or RS256 without JWT_KEYS_FILE, and does not ask for JWT_SECRET", () => {
    for (const algorithm of ["ES256", "RS256"]) {
      expect(problemsOf({ NODE_ENV: "production", MAIL_URL: "off", MFA_ENCRYPTION_KEY: MFA_KEY, REDIS_URL: "redis://cache:6379", JWT_ALGORITHM: algorithm })).toEqual([
        `JWT_KEYS_FILE is required when NODE_ENV=production and JWT_ALGORITHM=${algorithm}`,
      ]);
    }
  });

  it("reads the set and the signing kid; one key signs without JWT_SIGNING_KID", () => {
    const [a, b] = [es256(), es256()];
    const config = loadConfig({ NODE_ENV: "production", MAIL_URL: "off", MFA_ENCRYPTION_KEY: MFA_KEY, REDIS_URL: "redis://cache:6379", JWT_ALGORITHM: "ES256", JWT_KEYS_FILE: keysFile([a, b]), JWT_SIGNING_KID: b.kid });
    expect(config.jwt).toMatchObject({ keys: [a, b], signingKid: b.kid, keysGenerated: false });
    expect(loadConfig({ JWT_ALGORITHM: "ES256", JWT_KEYS_FILE: keysFile([a]) }).jwt.signingKid).toBe(a.kid);
  });

  it("names JWT_SIGNING_KID when it is missing for a set of several keys or not in the set", () => {
    const file = keysFile([es256(), es256()]);
    expect(problemsOf({ JWT_ALGORITHM: "ES256", JWT_KEYS_FILE: file })).toEqual([expect.stringContaining("JWT_SIGNING_KID is required")]);
    expect(problemsOf({ JWT_ALGORITHM: "ES256", JWT_KEYS_FILE: file, JWT_SIGNING_KID: "nope" })).toEqual([
      expect.stringContaining('JWT_SIGNING_KID "nope" is not a kid in JWT_KEYS_FILE'),
    ]);
  });

  it("reports an unreadable or invalid key file with the other problems", () => {
    expect(problemsOf({ JWT_ALGORITHM: "ES256", JWT_KEYS_FILE: "/nonexistent/jwks.json", PORT: "x" })).toEqual([
      "JWT_KEYS_FILE: cannot read /nonexistent/jwks.json (ENOENT)",
      expect.stringContaining("PORT"),
    ]);
    expect(problemsOf({ JWT_ALGORITHM: "RS256", JWT_KEYS_FILE: keysFile([es256()]) })).toEqual([expect.stringContaining("JWT_ALGORITHM is RS256")]);
  });

  it("keeps HMAC and key-set variables apart", () => {
    expect(problemsOf({ JWT_SECRET: SECRET, JWT_KEYS_FILE: keysFile([es256()]) })).toEqual([expect.stringContaining("JWT_KEYS_FILE and JWT_SIGNING_KID are for ES256 and RS256")]);
    expect(problemsOf({ JWT_ALGORITHM: "ES256", JWT_PREVIOUS_SECRETS: SECRET })).toEqual([expect.stringContaining("JWT_PREVIOUS_SECRETS is for HMAC")]);
  });

  it("reads JWT_PREVIOUS_SECRETS as a comma-separated list of secrets of at least 32 bytes", () => {
    const other = "o".repeat(32);
    expect(loadConfig({ JWT_SECRET: SECRET, JWT_PREVIOUS_SECRETS: ` ${other} ,${SECRET}` }).jwt.previousSecrets).toEqual([other, SECRET]);
    expect(problemsOf({ JWT_SECRET: SECRET, JWT_PREVIOUS_SECRETS: "short" })).toEqual([expect.stringContaining("JWT_PREVIOUS_SECRETS")]);
  });
});

describe("abuse protection configuration", () => {
  it("has the documented defaults", () => {
    expect(loadConfig({})).toMatchObject({
      trustProxy: false,
      maxSessionsPerUser: 50,
      throttle: {
        loginMaxFailures: 5,
        loginFailureWindow: 900,
        loginBlock: 60,
        loginMaxBlock: 900,
        loginMaxFailuresPerIp: 100,
        loginIpWindow: 3600,
        registerMaxPerIp: 10,
        registerWindow: 3600,
      },
      limits: { maxTokens: 1000, maxDepth: 8, maxAliases: 15, maxDirectives: 20, maxCost: 5000 },
    });
  });

  it("reports each bad value, naming its variable", () => {
    expect(problemsOf({ LOGIN_MAX_FAILURES: "0", MAX_SESSIONS_PER_USER: "many", MAX_TOKENS: "10" })).toEqual([
      expect.stringMatching(/^LOGIN_MAX_FAILURES /),
      expect.stringMatching(/^MAX_TOKENS /),
      expect.stringMatching(/^MAX_SESSIONS_PER_USER /),
    ]);
    expect(problemsOf({ LOGIN_BLOCK_SECONDS: "600", LOGIN_MAX_BLOCK_SECONDS: "60" })).toEqual([
      "LOGIN_MAX_BLOCK_SECONDS must be at least LOGIN_BLOCK_SECONDS",
    ]);
  });
});

describe("the transport's variables", () => {
  it("listen on this machine only, in one process, trusting no proxy, by default", () => {
    expect(loadConfig({ JWT_SECRET: SECRET })).toMatchObject({ host: "localhost", workers: 1, trustProxy: false });
  });

  it("listen on every interface by default in production", () => {
    expect(loadConfig({ JWT_SECRET: SECRET, NODE_ENV: "production", MFA_ENCRYPTION_KEY: MFA_KEY, MAIL_URL: "off", REDIS_URL: "redis://cache:6379" }).host).toBe("::");
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
    const problems = problemsOf({ NODE_ENV: "production", MFA_ENCRYPTION_KEY: MFA_KEY, PORT: "x" });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining("JWT_SECRET is required"),
        expect.stringContaining("PORT"),
        expect.stringMatching(/REDIS_URL .*REDIS_CLUSTER_NODES.*REDIS_SENTINELS.* is required when NODE_ENV=production/),
        expect.stringContaining("MAIL_URL is required when NODE_ENV=production"),
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it("accepts production with a cluster", () => {
    expect(loadConfig({ ...base, NODE_ENV: "production", MAIL_URL: "off", MFA_ENCRYPTION_KEY: MFA_KEY, REDIS_CLUSTER_NODES: "a:7000" }).production).toBe(true);
  });
});

describe("Postgres (DATABASE_URL, MIGRATE)", () => {
  const production = { NODE_ENV: "production", JWT_SECRET: SECRET, REDIS_URL: "redis://cache:6379", MAIL_URL: "off", MFA_ENCRYPTION_KEY: MFA_KEY };

  it("has no database unless DATABASE_URL is set, and refuses MIGRATE without one", () => {
    expect(loadConfig({}).database).toBeNull();
    expect(problemsOf({ MIGRATE: "on" })).toEqual(["MIGRATE needs DATABASE_URL"]);
  });

  it("takes postgres:// and postgresql:// URLs as given, credentials and parameters included", () => {
    for (const url of ["postgres://auth:secret@db.internal:5432/auth", "postgresql://auth@[::1]/auth?sslmode=verify-full&application_name=api"]) {
      expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ url, migrate: true });
    }
  });

  it("migrates at start by default outside production only, and reads on/off", () => {
    const url = "postgres://auth@db/auth";
    expect(loadConfig({ DATABASE_URL: url }).database?.migrate).toBe(true);
    expect(loadConfig({ DATABASE_URL: url, MIGRATE: "off" }).database?.migrate).toBe(false);
    expect(loadConfig({ ...production, DATABASE_URL: url }).database?.migrate).toBe(false);
    expect(loadConfig({ ...production, DATABASE_URL: url, MIGRATE: "on" }).database?.migrate).toBe(true);
    expect(problemsOf({ DATABASE_URL: url, MIGRATE: "yes" })).toEqual(['MIGRATE must be one of on, off, got "yes"']);
  });

  it("refuses another scheme, a URL without a host, and garbage, never quoting the URL (it holds the password)", () => {
    expect(problemsOf({ DATABASE_URL: "mysql://root:hunter2@db/auth" })).toEqual(["DATABASE_URL must be a postgres:// or postgresql:// URL, got a mysql:// URL"]);
    expect(problemsOf({ DATABASE_URL: "postgres:///auth" })).toEqual([expect.stringMatching(/^DATABASE_URL must name the database server's host/)]);
    expect(problemsOf({ DATABASE_URL: "hunter2 db auth" })).toEqual([expect.stringMatching(/^DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/)]);
    for (const problem of [...problemsOf({ DATABASE_URL: "mysql://root:hunter2@db/auth" }), ...problemsOf({ DATABASE_URL: "postgres://a:hunter2@db/x?sslmode=on" })]) {
      expect(problem).not.toContain("hunter2");
    }
  });

  it("honours sslmode as pg reads it, and refuses one pg does not know rather than guess", () => {
    for (const mode of ["disable", "prefer", "require", "verify-ca", "verify-full", "no-verify"]) {
      expect(loadConfig({ DATABASE_URL: `postgres://db/auth?sslmode=${mode}` }).database).not.toBeNull();
    }
    expect(problemsOf({ DATABASE_URL: "postgres://db/auth?sslmode=allow" })).toEqual([
      'DATABASE_URL: sslmode must be one of disable, prefer, require, verify-ca, verify-full, no-verify, got "allow"',
    ]);
  });

  it("refuses an sslrootcert, sslcert or sslkey file it cannot read, at start rather than at the first query", () => {
    expect(problemsOf({ DATABASE_URL: "postgres://db/auth?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem" })).toEqual([
      "DATABASE_URL: cannot read the sslrootcert file /nonexistent/ca.pem",
    ]);
    expect(loadConfig({ DATABASE_URL: `postgres://db/auth?sslmode=verify-full&sslrootcert=${__filename}` }).database).not.toBeNull();
  });

  it("is read alone for npm run migrate, which needs DATABASE_URL and nothing else, even in production", () => {
    expect(loadDatabaseConfig({ NODE_ENV: "production", DATABASE_URL: "postgres://db/auth" })).toEqual({ url: "postgres://db/auth", migrate: false });
    expect(() => loadDatabaseConfig({})).toThrow(/DATABASE_URL is required/);
    expect(() => loadDatabaseConfig({ DATABASE_URL: "redis://db" })).toThrow(ConfigError);
  });
});

describe("the second factor's settings", () => {
  it("has the documented defaults, with a key made for this process outside production", () => {
    const config = loadConfig({ JWT_SECRET: SECRET });
    expect(config.mfa).toMatchObject({ previousEncryptionKeys: [], keyGenerated: true, issuer: "Revocable Auth", requiredForRoles: [], pendingTtlSeconds: 300, pendingMaxPerUser: 5 });
    expect(Buffer.from(config.mfa.encryptionKey, "base64")).toHaveLength(32);
    expect(config.throttle).toMatchObject({ mfaMaxFailures: 5, mfaFailureWindow: 900 });
  });

  it("reads every variable", () => {
    const previous = Buffer.alloc(32, 9).toString("base64url");
    const config = loadConfig({
      JWT_SECRET: SECRET,
      MFA_ENCRYPTION_KEY: MFA_KEY,
      MFA_PREVIOUS_ENCRYPTION_KEYS: ` ${previous} `,
      MFA_ISSUER: "Example",
      MFA_REQUIRED_FOR_ROLES: "ADMIN, USER",
      MFA_MAX_FAILURES: "3",
      MFA_FAILURE_WINDOW_SECONDS: "60",
      MFA_PENDING_TTL_SECONDS: "120",
      MFA_PENDING_MAX_PER_USER: "2",
    });
    expect(config.mfa).toEqual({
      encryptionKey: MFA_KEY,
      previousEncryptionKeys: [previous],
      keyGenerated: false,
      issuer: "Example",
      requiredForRoles: ["USER", "ADMIN"],
      pendingTtlSeconds: 120,
      pendingMaxPerUser: 2,
    });
    expect(config.throttle).toMatchObject({ mfaMaxFailures: 3, mfaFailureWindow: 60 });
  });

  it.each([
    [{ NODE_ENV: "production", MAIL_URL: "off", REDIS_URL: "redis://cache:6379", JWT_SECRET: SECRET }, "MFA_ENCRYPTION_KEY is required when NODE_ENV=production"],
    [{ MFA_ENCRYPTION_KEY: Buffer.alloc(16).toString("base64") }, "MFA_ENCRYPTION_KEY must be 32 bytes in base64"],
    [{ MFA_ENCRYPTION_KEY: "not base64 at all!" }, "MFA_ENCRYPTION_KEY must be 32 bytes in base64"],
    [{ MFA_PREVIOUS_ENCRYPTION_KEYS: "short" }, "MFA_PREVIOUS_ENCRYPTION_KEYS"],
    [{ MFA_REQUIRED_FOR_ROLES: "ROOT" }, 'MFA_REQUIRED_FOR_ROLES must list roles among USER, ADMIN, got "ROOT"'],
    [{ MFA_MAX_FAILURES: "0" }, "MFA_MAX_FAILURES"],
    [{ MFA_PENDING_TTL_SECONDS: "0" }, "MFA_PENDING_TTL_SECONDS must be a whole number from 1 to 3600"],
    [{ MFA_PENDING_TTL_SECONDS: "5m" }, "MFA_PENDING_TTL_SECONDS"],
    [{ MFA_PENDING_MAX_PER_USER: "0" }, "MFA_PENDING_MAX_PER_USER must be a whole number from 1 to 100"],
  ])("refuses %j with a message naming the variable", (env, message) => {
    expect(problemsOf({ JWT_SECRET: SECRET, ...env })).toEqual([expect.stringContaining(message)]);
  });
});

describe("DPoP configuration", () => {
  it("has the documented defaults: optional, no role needs it, 60 s of skew", () => {
    expect(loadConfig({}).dpop).toEqual({ mode: "optional", requiredForRoles: [], maxSkewSeconds: 60, nonce: false });
  });

  it("reads every variable", () => {
    expect(loadConfig({ DPOP: "required", DPOP_REQUIRED_FOR_ROLES: "ADMIN", DPOP_MAX_SKEW_SECONDS: "30", DPOP_NONCE: "on" }).dpop).toEqual({
      mode: "required",
      requiredForRoles: ["ADMIN"],
      maxSkewSeconds: 30,
      nonce: true,
    });
  });

  it.each([
    [{ DPOP: "on" }, "DPOP"],
    [{ DPOP_REQUIRED_FOR_ROLES: "ROOT" }, 'DPOP_REQUIRED_FOR_ROLES must list roles among USER, ADMIN, got "ROOT"'],
    [{ DPOP: "off", DPOP_REQUIRED_FOR_ROLES: "ADMIN" }, "DPOP_REQUIRED_FOR_ROLES needs DPOP=optional or DPOP=required"],
    [{ DPOP_MAX_SKEW_SECONDS: "0" }, "DPOP_MAX_SKEW_SECONDS must be a whole number from 1 to 600"],
    [{ DPOP: "off", DPOP_NONCE: "on" }, "DPOP_NONCE=on needs DPOP=optional or DPOP=required"],
    [{ DPOP_NONCE: "yes" }, "DPOP_NONCE"],
  ])("refuses %j with a message naming the variable", (env, message) => {
    expect(problemsOf({ JWT_SECRET: SECRET, ...env })).toEqual([expect.stringContaining(message)]);
  });
});

describe("live connections configuration", () => {
  it("has the documented defaults", () => {
    expect(loadConfig({}).live).toEqual({
      recheckSeconds: 5,
      maxConnectionsPerUser: 20,
      maxPendingPerClient: 50,
      maxSubscriptionsPerConnection: 10,
      pingSeconds: 30,
      allowedOrigins: null,
      auditMaxQueued: 1000,
    });
  });

  it("reads LIVE_ALLOWED_ORIGINS as a list of exact origins", () => {
    expect(loadConfig({ LIVE_ALLOWED_ORIGINS: "https://app.example.com, http://localhost:3000" }).live.allowedOrigins).toEqual([
      "https://app.example.com",
      "http://localhost:3000",
    ]);
  });

  it("reads CORS_ORIGINS as exact origins, none by default, and refuses *, paths and other schemes", () => {
    expect(loadConfig({}).browsers).toEqual({ corsOrigins: [], publicOrigin: null, refreshCookieSameSite: "strict" });
    expect(loadConfig({ CORS_ORIGINS: "https://app.example.com, http://127.0.0.1:5173" }).browsers.corsOrigins).toEqual(["https://app.example.com", "http://127.0.0.1:5173"]);
    expect(problemsOf({ CORS_ORIGINS: "*" })).toEqual([expect.stringMatching(/^CORS_ORIGINS cannot be \*: .* list each origin/)]);
    for (const value of ["https://app.example.com/", "https://app.example.com/app", "app.example.com", "ftp://app.example.com", "https://a.example.com,"]) {
      expect(problemsOf({ CORS_ORIGINS: value })).toEqual([expect.stringMatching(/^CORS_ORIGINS must be a comma-separated list of origins/)]);
    }
  });

  it("lets LIVE_ALLOWED_ORIGINS default to CORS_ORIGINS, and keeps its own value when set", () => {
    expect(loadConfig({ CORS_ORIGINS: "https://app.example.com" }).live.allowedOrigins).toEqual(["https://app.example.com"]);
    expect(loadConfig({ CORS_ORIGINS: "https://app.example.com", LIVE_ALLOWED_ORIGINS: "https://live.example.com" }).live.allowedOrigins).toEqual(["https://live.example.com"]);
    expect(loadConfig({}).live.allowedOrigins).toBeNull();
  });

  it("reads PUBLIC_URL as this API's origin", () => {
    expect(loadConfig({ PUBLIC_URL: "https://auth.example.com/" }).browsers.publicOrigin).toBe("https://auth.example.com");
    expect(problemsOf({ PUBLIC_URL: "https://auth.example.com/api" })).toEqual([expect.stringMatching(/^PUBLIC_URL must be this API's origin/)]);
  });

  it("sets REFRESH_COOKIE_SAMESITE to strict, lax or none, and refuses none without https outside localhost", () => {
    expect(loadConfig({ REFRESH_COOKIE_SAMESITE: "lax" }).browsers.refreshCookieSameSite).toBe("lax");
    expect(problemsOf({ REFRESH_COOKIE_SAMESITE: "None" })).toEqual([expect.stringMatching(/^REFRESH_COOKIE_SAMESITE must be one of strict, lax, none/)]);
    // On this machine only: the default HOST (localhost), a loopback address, or a loopback PUBLIC_URL.
    for (const env of [{}, { HOST: "127.0.0.1" }, { HOST: "::1" }, { HOST: "0.0.0.0", PUBLIC_URL: "http://localhost:4000" }, { HOST: "0.0.0.0", PUBLIC_URL: "https://auth.example.com" }]) {
      expect(loadConfig({ ...env, REFRESH_COOKIE_SAMESITE: "none" }).browsers.refreshCookieSameSite).toBe("none");
    }
    expect(problemsOf({ HOST: "0.0.0.0", REFRESH_COOKIE_SAMESITE: "none" })).toEqual([
      expect.stringMatching(/^REFRESH_COOKIE_SAMESITE=none needs https: set PUBLIC_URL to this API's https origin/),
    ]);
    expect(problemsOf({ HOST: "0.0.0.0", PUBLIC_URL: "http://auth.example.com", REFRESH_COOKIE_SAMESITE: "none" })).toEqual([
      expect.stringMatching(/^REFRESH_COOKIE_SAMESITE=none needs https: PUBLIC_URL is "http:\/\/auth.example.com"/),
    ]);
    // Production listens on every interface by default: it must say its https origin.
    expect(problemsOf({ NODE_ENV: "production", REFRESH_COOKIE_SAMESITE: "none" })).toContainEqual(expect.stringMatching(/^REFRESH_COOKIE_SAMESITE=none needs https/));
  });

  it("reports each bad value, naming its variable", () => {
    expect(problemsOf({ LIVE_RECHECK_SECONDS: "0", LIVE_MAX_CONNECTIONS_PER_USER: "x", LIVE_ALLOWED_ORIGINS: "https://app.example.com/path" })).toEqual([
      expect.stringMatching(/^LIVE_RECHECK_SECONDS must be a whole number from 1 to 300/),
      expect.stringMatching(/^LIVE_MAX_CONNECTIONS_PER_USER /),
      expect.stringMatching(/^LIVE_ALLOWED_ORIGINS must be a comma-separated list of origins/),
    ]);
    expect(problemsOf({ LIVE_RECHECK_SECONDS: "301" })).toEqual([expect.stringMatching(/^LIVE_RECHECK_SECONDS /)]);
    expect(problemsOf({ LIVE_MAX_PENDING_PER_IP: "0" })).toEqual([expect.stringMatching(/^LIVE_MAX_PENDING_PER_IP /)]);
    // At least 100: one read of the audit tail hands over at most that many, so it still reads in batches.
    expect(problemsOf({ LIVE_AUDIT_MAX_QUEUED: "99" })).toEqual([expect.stringMatching(/^LIVE_AUDIT_MAX_QUEUED must be a whole number from 100 to 100000/)]);
    expect(loadConfig({ LIVE_AUDIT_MAX_QUEUED: "150" }).live.auditMaxQueued).toBe(150);
  });
});

describe("passkey configuration", () => {
  const production = { NODE_ENV: "production", MFA_ENCRYPTION_KEY: MFA_KEY, MAIL_URL: "off", REDIS_URL: "redis://cache:6379", JWT_SECRET: SECRET };

  it("is on outside production, for localhost on PORT", () => {
    expect(loadConfig({ JWT_SECRET: SECRET, PORT: "4100" }).passkeys).toEqual({
      rpId: "localhost",
      rpName: "revocable-auth-api",
      origins: ["http://localhost:4100"],
    });
  });

  it("is off in production unless PASSKEYS=on, and then needs WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS", () => {
    expect(loadConfig(production).passkeys).toBeNull();
    expect(loadConfig({ JWT_SECRET: SECRET, PASSKEYS: "off" }).passkeys).toBeNull();
    expect(problemsOf({ ...production, PASSKEYS: "on" })).toEqual([
      expect.stringMatching(/^WEBAUTHN_RP_ID is required when NODE_ENV=production and PASSKEYS=on/),
      expect.stringMatching(/^WEBAUTHN_ORIGINS is required when NODE_ENV=production and PASSKEYS=on/),
    ]);
    const config = loadConfig({
      ...production,
      PASSKEYS: "on",
      WEBAUTHN_RP_ID: "example.com",
      WEBAUTHN_RP_NAME: "Example",
      WEBAUTHN_ORIGINS: "https://example.com, https://app.example.com:8443",
    });
    expect(config.passkeys).toEqual({ rpId: "example.com", rpName: "Example", origins: ["https://example.com", "https://app.example.com:8443"] });
  });

  it.each([
    ["https://example.com/", /written as its origin alone/],
    ["https://example.com/login", /written as its origin alone/],
    ["example.com", /not an origin/],
    ["http://example.com", /must be https/],
    ["https://example.org", /not on WEBAUTHN_RP_ID "example.com"/],
    ["https://badexample.com", /not on WEBAUTHN_RP_ID "example.com"/],
  ])("refuses the origin %j", (origin, problem) => {
    expect(problemsOf({ ...production, PASSKEYS: "on", WEBAUTHN_RP_ID: "example.com", WEBAUTHN_ORIGINS: origin })).toEqual([
      expect.stringMatching(new RegExp(`^WEBAUTHN_ORIGINS: .*${problem.source}`)),
    ]);
  });

  it("refuses an RP ID that is not a domain name, and a PASSKEYS that is not on or off", () => {
    expect(problemsOf({ WEBAUTHN_RP_ID: "127.0.0.1", WEBAUTHN_ORIGINS: "http://localhost:1" })).toEqual([
      expect.stringMatching(/^WEBAUTHN_RP_ID must be a domain name/),
      expect.stringMatching(/^WEBAUTHN_ORIGINS: .*not on WEBAUTHN_RP_ID/),
    ]);
    expect(problemsOf({ PASSKEYS: "yes" })).toEqual([expect.stringContaining("PASSKEYS must be one of on, off")]);
  });
});

describe("mail", () => {
  const base = { JWT_SECRET: SECRET };
  const production = { JWT_SECRET: SECRET, NODE_ENV: "production", MFA_ENCRYPTION_KEY: MFA_KEY, REDIS_URL: "redis://cache:6379" };

  it("writes mails to the log outside production when MAIL_URL is unset, with links to localhost:3000", () => {
    expect(loadConfig(base).mail).toMatchObject({ transport: "log", url: null, appUrl: "http://localhost:3000", maxAttempts: 4 });
    expect(loadConfig(base)).toMatchObject({ requireVerifiedEmail: false, passwordResetTtl: 1800, emailVerificationTtl: 86400 });
    expect(loadConfig(base).throttle).toMatchObject({ recoveryMaxPerAddress: 10, recoveryMaxPerAddressAndIp: 3, recoveryMaxPerIp: 30, recoveryWindow: 3600 });
  });

  it("reads every mail variable", () => {
    const config = loadConfig({
      ...production,
      MAIL_URL: "smtps://user:pass@smtp.example.com:465",
      MAIL_FROM: "Auth <auth@example.com>",
      APP_URL: "https://app.example.com/",
      MAIL_MAX_ATTEMPTS: "2",
      REQUIRE_VERIFIED_EMAIL: "on",
      PASSWORD_RESET_TTL_SECONDS: "600",
      EMAIL_VERIFICATION_TTL_SECONDS: "7200",
      RECOVERY_MAX_PER_ADDRESS: "5",
      RECOVERY_MAX_PER_ADDRESS_AND_IP: "2",
      RECOVERY_MAX_PER_IP: "50",
      RECOVERY_WINDOW_SECONDS: "60",
    });
    expect(config.mail).toMatchObject({ transport: "smtp", url: "smtps://user:pass@smtp.example.com:465", from: "Auth <auth@example.com>", appUrl: "https://app.example.com", maxAttempts: 2 });
    expect(config).toMatchObject({ requireVerifiedEmail: true, passwordResetTtl: 600, emailVerificationTtl: 7200 });
    expect(config.throttle).toMatchObject({ recoveryMaxPerAddress: 5, recoveryMaxPerAddressAndIp: 2, recoveryMaxPerIp: 50, recoveryWindow: 60 });
  });

  it("turns the mail flows off with MAIL_URL=off, which production accepts", () => {
    expect(loadConfig({ ...production, MAIL_URL: "off" }).mail.transport).toBe("off");
  });

  it.each([
    [{ MAIL_URL: "http://smtp.example.com" }, ["MAIL_URL"]],
    [{ APP_URL: "ftp://app.example.com" }, ["APP_URL"]],
    [{ APP_URL: "https://app.example.com/?next=1" }, ["APP_URL"]],
    [{ PASSWORD_RESET_TTL_SECONDS: "86401" }, ["PASSWORD_RESET_TTL_SECONDS"]],
    [{ PASSWORD_RESET_TTL_SECONDS: "0" }, ["PASSWORD_RESET_TTL_SECONDS"]],
    [{ REQUIRE_VERIFIED_EMAIL: "yes" }, ["REQUIRE_VERIFIED_EMAIL"]],
    [{ REQUIRE_VERIFIED_EMAIL: "on", MAIL_URL: "off" }, ["REQUIRE_VERIFIED_EMAIL"]],
    [{ RECOVERY_MAX_PER_ADDRESS: "0" }, ["RECOVERY_MAX_PER_ADDRESS"]],
    [{ RECOVERY_MAX_PER_ADDRESS_AND_IP: "0" }, ["RECOVERY_MAX_PER_ADDRESS_AND_IP"]],
  ])("refuses %j naming %j", (env, names) => {
    const problems = problemsOf({ ...base, ...env });
    expect(problems).toHaveLength(names.length);
    names.forEach((name, i) => expect(problems[i]).toContain(name));
  });

  it("refuses production without MAIL_URL, and with MAIL_URL but no APP_URL or MAIL_FROM", () => {
    expect(problemsOf(production)).toEqual([expect.stringContaining("MAIL_URL is required when NODE_ENV=production")]);
    expect(problemsOf({ ...production, MAIL_URL: "smtp://smtp.example.com" })).toEqual([
      expect.stringContaining("APP_URL is required"),
      expect.stringContaining("MAIL_FROM is required"),
    ]);
  });
});

describe("the OAuth provider (OAUTH_PROVIDER, OAUTH_ISSUER)", () => {
  it("is off by default, and OAUTH_ISSUER alone is refused", () => {
    expect(loadConfig({}).oauth).toBeNull();
    expect(problemsOf({ OAUTH_ISSUER: "https://auth.example.com" })).toEqual(["OAUTH_ISSUER needs OAUTH_PROVIDER=on"]);
  });

  it("refuses an HMAC key (HS256), naming ES256 and RS256: relying parties verify with the published keys", () => {
    const problems = problemsOf({ OAUTH_PROVIDER: "on" });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^OAUTH_PROVIDER=on needs JWT_ALGORITHM=ES256 or RS256: .*HS256 signs with a secret that cannot be published/);
  });

  it("defaults the issuer to the API's own origin outside production: PUBLIC_URL, else localhost and PORT", () => {
    expect(loadConfig({ OAUTH_PROVIDER: "on", JWT_ALGORITHM: "ES256", PORT: "4100" }).oauth).toEqual({ issuer: "http://localhost:4100" });
    expect(loadConfig({ OAUTH_PROVIDER: "on", JWT_ALGORITHM: "ES256", PUBLIC_URL: "https://auth.example.com/" }).oauth).toEqual({ issuer: "https://auth.example.com" });
    expect(problemsOf({ OAUTH_PROVIDER: "on", JWT_ALGORITHM: "ES256", PORT: "0" })).toEqual([expect.stringMatching(/^OAUTH_PROVIDER=on with PORT=0 needs OAUTH_ISSUER/)]);
  });

  it("requires an https OAUTH_ISSUER in production, and refuses one with a query or fragment", () => {
    const production = { NODE_ENV: "production", REDIS_URL: "redis://localhost:6379", MAIL_URL: "off", JWT_ALGORITHM: "ES256", JWT_KEYS_FILE: keysFile([generatePrivateJwk("ES256")]), MFA_ENCRYPTION_KEY: MFA_KEY, OAUTH_PROVIDER: "on" };
    expect(problemsOf(production)).toContainEqual(expect.stringMatching(/^OAUTH_ISSUER is required when NODE_ENV=production/));
    expect(problemsOf({ ...production, OAUTH_ISSUER: "http://auth.example.com" })).toContainEqual(expect.stringMatching(/^OAUTH_ISSUER must be https/));
    expect(problemsOf({ OAUTH_PROVIDER: "on", JWT_ALGORITHM: "ES256", OAUTH_ISSUER: "https://auth.example.com/?x=1" })).toEqual([expect.stringMatching(/^OAUTH_ISSUER must be an https URL without query or fragment/)]);
    expect(loadConfig({ ...production, OAUTH_ISSUER: "https://auth.example.com/" }).oauth).toEqual({ issuer: "https://auth.example.com" });
  });
});
