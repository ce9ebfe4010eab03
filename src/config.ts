import { randomBytes } from "node:crypto";

export type Algorithm = "HS256" | "HS384" | "HS512";
export type FailureMode = "closed" | "open";

export interface Config {
  readonly port: number;
  readonly nodeEnv: string;
  readonly production: boolean;
  readonly redisUrl: string | null;
  /** Where Redis is, in one of the three modes; null: the embedded in-memory store. */
  readonly redis: RedisConfig | null;
  readonly jwt: {
    readonly secret: string;
    /** True when no JWT_SECRET was given and a random one was made for this process. */
    readonly secretGenerated: boolean;
    readonly algorithm: Algorithm;
    readonly issuer: string;
    readonly audience: string;
  };
  /** Seconds. */
  readonly accessTokenTtl: number;
  /** Seconds. */
  readonly refreshTokenTtl: number;
  readonly admin: { readonly email: string; readonly password: string } | null;
  readonly revocationFailureMode: FailureMode;
  /** Upper bound, in milliseconds, on any store call before it counts as failed. */
  readonly storeTimeoutMs: number;
  readonly logLevel: string;
  /** Serves the GraphiQL explorer at GET /graphql and allows introspection; on by default outside production. */
  readonly explorer: boolean;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** The three ways to reach Redis; exactly one is configured. */
export type RedisTarget =
  | { readonly mode: "single"; readonly url: string }
  | { readonly mode: "cluster"; readonly nodes: readonly HostPort[] }
  | { readonly mode: "sentinel"; readonly sentinels: readonly HostPort[]; readonly masterName: string };

export type RedisConfig = RedisTarget & {
  /** ACL user and password, for every node in every mode. */
  readonly username: string | null;
  readonly password: string | null;
  readonly tls: boolean;
  /** After a write that revokes or ends something, WAIT until this many replicas have it (0: do not wait). */
  readonly minReplicas: number;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

const MIN_SECRET_BYTES = 32;
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Reads and validates the environment once; every problem is reported, each naming its variable.
 * An empty value counts as unset, as `VAR=` lines in compose files and .env files mean.
 */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);
  const nodeEnv = env.NODE_ENV ?? "development";
  const production = nodeEnv === "production";

  const secret = readSecret(env, production, problems);
  const accessTokenTtl = read.integer("ACCESS_TOKEN_TTL", 900, 1, MAX_TTL_SECONDS);
  const refreshTokenTtl = read.integer("REFRESH_TOKEN_TTL", 7 * 24 * 3600, 1, MAX_TTL_SECONDS);
  if (refreshTokenTtl <= accessTokenTtl) {
    problems.push("REFRESH_TOKEN_TTL must be longer than ACCESS_TOKEN_TTL");
  }

  const redis = readRedis(env, read, problems);
  if (production && redis === null) {
    problems.push(
      "REDIS_URL (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS) is required when NODE_ENV=production: the embedded store is single-instance and not durable",
    );
  }

  const config: Config = {
    port: read.integer("PORT", 4000, 0, 65535),
    nodeEnv,
    production,
    redisUrl: redis?.mode === "single" ? redis.url : null,
    redis,
    jwt: {
      secret: secret ?? "",
      secretGenerated: !env.JWT_SECRET,
      algorithm: read.oneOf("JWT_ALGORITHM", ["HS256", "HS384", "HS512"] as const, "HS256"),
      issuer: read.text("JWT_ISSUER", "revocable-auth-api"),
      audience: read.text("JWT_AUDIENCE", "revocable-auth-api"),
    },
    accessTokenTtl,
    refreshTokenTtl,
    admin: readAdmin(env, problems),
    revocationFailureMode: read.oneOf("REVOCATION_FAILURE_MODE", ["closed", "open"] as const, "closed"),
    storeTimeoutMs: read.integer("STORE_TIMEOUT_MS", 1000, 50, 60_000),
    logLevel: read.oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    explorer: read.oneOf("EXPLORER", ["on", "off"] as const, production ? "off" : "on") === "on",
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

const MAX_MIN_REPLICAS = 16;

/** Exactly one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS (+ REDIS_SENTINEL_MASTER), or none. */
function readRedis(env: Env, read: EnvReader, problems: string[]): RedisConfig | null {
  const given = ["REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_SENTINELS"].filter((name) => env[name]);
  if (given.length > 1) problems.push(`${given.join(" and ")} are set: choose one way to reach Redis`);
  const common = {
    username: env.REDIS_USERNAME || null,
    password: env.REDIS_PASSWORD || null,
    tls: read.oneOf("REDIS_TLS", ["on", "off"] as const, "off") === "on",
    minReplicas: read.integer("REDIS_MIN_REPLICAS", 0, 0, MAX_MIN_REPLICAS),
  };
  if (env.REDIS_SENTINEL_MASTER && !env.REDIS_SENTINELS) problems.push("REDIS_SENTINEL_MASTER needs REDIS_SENTINELS");
  if (given.length !== 1) {
    if (given.length === 0) {
      for (const name of ["REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_TLS", "REDIS_MIN_REPLICAS"]) {
        if (env[name]) problems.push(`${name} needs REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS`);
      }
    }
    return null;
  }
  if (env.REDIS_URL) {
    const url = read.redisUrl("REDIS_URL");
    return url === null ? null : { mode: "single", url, ...common };
  }
  if (env.REDIS_CLUSTER_NODES) {
    const nodes = read.hostPorts("REDIS_CLUSTER_NODES");
    return nodes === null ? null : { mode: "cluster", nodes, ...common };
  }
  const sentinels = read.hostPorts("REDIS_SENTINELS");
  const masterName = env.REDIS_SENTINEL_MASTER?.trim() || null;
  if (masterName === null) problems.push("REDIS_SENTINEL_MASTER is required with REDIS_SENTINELS: the name the sentinels monitor");
  return sentinels === null || masterName === null ? null : { mode: "sentinel", sentinels, masterName, ...common };
}

function readSecret(env: Env, production: boolean, problems: string[]): string | null {
  const secret = env.JWT_SECRET || undefined;
  if (secret === undefined) {
    if (production) problems.push("JWT_SECRET is required when NODE_ENV=production");
    return randomBytes(48).toString("base64url");
  }
  if (Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
    problems.push(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes`);
    return null;
  }
  return secret;
}

function readAdmin(env: Env, problems: string[]): Config["admin"] {
  const email = env.ADMIN_EMAIL?.trim().toLowerCase() || undefined;
  const password = env.ADMIN_PASSWORD || undefined;
  if (email === undefined && password === undefined) return null;
  if (email === undefined || password === undefined) {
    problems.push("ADMIN_EMAIL and ADMIN_PASSWORD must be set together");
    return null;
  }
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) problems.push("ADMIN_EMAIL must be an email address");
  if (password.length < 8 || password.length > 128) {
    problems.push("ADMIN_PASSWORD must be 8 to 128 characters");
  }
  return { email, password };
}

class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }

  text(name: string, fallback: string): string {
    const raw = this.env[name];
    return raw === undefined || raw.trim() === "" ? fallback : raw;
  }

  redisUrl(name: string): string | null {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return null;
    try {
      const url = new URL(raw);
      if (url.protocol === "redis:" || url.protocol === "rediss:") return raw;
    } catch {
      // reported below
    }
    this.problems.push(`${name} must be a redis:// or rediss:// URL`);
    return null;
  }

  /** A comma-separated list of host:port; null (and a problem) when any entry is malformed. */
  hostPorts(name: string): HostPort[] | null {
    const raw = this.env[name] ?? "";
    const entries = raw.split(",").map((entry) => entry.trim());
    const parsed = entries.map(parseHostPort);
    if (raw.trim() === "" || parsed.some((entry) => entry === null)) {
      this.problems.push(`${name} must be a comma-separated list of host:port (e.g. 10.0.0.1:6379,10.0.0.2:6379), got "${raw}"`);
      return null;
    }
    return parsed as HostPort[];
  }
}

function parseHostPort(entry: string): HostPort | null {
  // host:port, or [v6-address]:port
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(entry);
  if (!match) return null;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (match[1] ?? match[2])!, port };
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === "object") deepFreeze(child);
  }
  return Object.freeze(value);
}
