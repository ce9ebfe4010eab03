import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { availableParallelism } from "node:os";

export type Algorithm = "HS256" | "HS384" | "HS512";
export type FailureMode = "closed" | "open";

export interface Config {
  readonly port: number;
  /** The address to listen on; "::" (every interface, IPv6 and IPv4) unless HOST is set. */
  readonly host: string;
  /** Processes serving requests: 1 serves in this process; more fork a primary and that many workers. */
  readonly workers: number;
  /**
   * libuv's thread pool size for each serving process (argon2 runs there). Unless
   * UV_THREADPOOL_SIZE is set: CPUs / WORKERS - 1, at least 1, so hashing leaves a core to the event loop.
   */
  readonly threadPoolSize: number;
  /** Which proxies to believe about the client's address (X-Forwarded-For): none, a hop count, or addresses/CIDRs. */
  readonly trustProxy: false | number | readonly string[];
  readonly nodeEnv: string;
  readonly production: boolean;
  readonly redisUrl: string | null;
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

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

const MIN_SECRET_BYTES = 32;
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;
const MAX_WORKERS = 256;
const MAX_PROXY_HOPS = 32;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
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

  const config: Config = {
    port: read.integer("PORT", 4000, 0, 65535),
    host: read.host("HOST", "::"),
    workers: read.workers("WORKERS"),
    trustProxy: read.trustProxy("TRUST_PROXY"),
    threadPoolSize: 0,
    nodeEnv,
    production,
    redisUrl: read.redisUrl("REDIS_URL"),
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
  const defaultPool = Math.max(1, Math.floor(availableParallelism() / config.workers) - 1);
  (config as { threadPoolSize: number }).threadPoolSize = read.integer("UV_THREADPOOL_SIZE", defaultPool, 1, 1024);
  if (config.workers > 1 && config.redisUrl === null && !problems.some((problem) => problem.startsWith("REDIS_URL"))) {
    problems.push("WORKERS greater than 1 needs REDIS_URL: with the embedded store each worker would hold its own users and sessions");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
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

  host(name: string, fallback: string): string {
    const raw = this.env[name]?.trim();
    if (raw === undefined || raw === "") return fallback;
    if (isIP(raw) === 0 && !HOSTNAME.test(raw)) {
      this.problems.push(`${name} must be an IP address or a host name, got "${raw}"`);
      return fallback;
    }
    return raw;
  }

  workers(name: string): number {
    const raw = this.env[name]?.trim();
    if (raw === "auto") return availableParallelism();
    return this.integer(name, 1, 1, MAX_WORKERS);
  }

  trustProxy(name: string): Config["trustProxy"] {
    const raw = this.env[name]?.trim();
    if (raw === undefined || raw === "") return false;
    if (/^\d+$/.test(raw)) {
      const hops = Number(raw);
      if (hops <= MAX_PROXY_HOPS) return hops === 0 ? false : hops;
    } else {
      const entries = raw.split(",").map((entry) => entry.trim());
      if (entries.every(isAddressOrCidr)) return entries;
    }
    this.problems.push(`${name} must be a hop count from 0 to ${MAX_PROXY_HOPS}, or a comma-separated list of IP addresses and CIDRs, got "${raw}"`);
    return false;
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
}

function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split("/");
  const family = isIP(address ?? "");
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === "object") deepFreeze(child);
  }
  return Object.freeze(value);
}
