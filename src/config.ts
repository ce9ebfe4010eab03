import { randomBytes } from "node:crypto";
import { isIP } from "node:net";

export type Algorithm = "HS256" | "HS384" | "HS512";
export type FailureMode = "closed" | "open";

export interface Config {
  readonly port: number;
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
  /**
   * Which proxies may name the client in X-Forwarded-For: a hop count, a list of proxy addresses or
   * CIDRs, or null (default) to use the socket's address.
   */
  readonly trustProxy: TrustProxy;
  readonly throttle: ThrottleLimits;
  readonly limits: OperationLimits;
  /** Starting one more session ends the user's oldest one. */
  readonly maxSessionsPerUser: number;
}

export type TrustProxy = number | readonly string[] | null;

/** Brute-force throttling (docs/security.md); every window in seconds. */
export interface ThrottleLimits {
  /** Failed logins per (email, client IP) within `loginFailureWindow` before that pair is blocked. */
  readonly loginMaxFailures: number;
  readonly loginFailureWindow: number;
  /** The first block; each further block of the same pair doubles, up to `loginMaxBlock`. */
  readonly loginBlock: number;
  readonly loginMaxBlock: number;
  /** Failed logins per client IP, across accounts, within `loginIpWindow`. */
  readonly loginMaxFailuresPerIp: number;
  readonly loginIpWindow: number;
  /** Registrations attempted per client IP within `registerWindow`. */
  readonly registerMaxPerIp: number;
  readonly registerWindow: number;
}

/** Bounds on the work one GraphQL operation may ask for (docs/security.md). */
export interface OperationLimits {
  /** Lexical tokens in the document; checked while parsing, so a huge query stops early. */
  readonly maxTokens: number;
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxDirectives: number;
  /** graphql-armor's cost: 1 per scalar, 2 per object, times 1.5 per level of depth. */
  readonly maxCost: number;
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
    trustProxy: readTrustProxy(env, problems),
    throttle: readThrottle(read, problems),
    limits: {
      maxTokens: read.integer("MAX_TOKENS", 1000, 50, 100_000),
      maxDepth: read.integer("MAX_DEPTH", 8, 1, 100),
      maxAliases: read.integer("MAX_ALIASES", 15, 0, 1000),
      maxDirectives: read.integer("MAX_DIRECTIVES", 20, 0, 1000),
      maxCost: read.integer("MAX_COST", 5000, 1, 1_000_000),
    },
    maxSessionsPerUser: read.integer("MAX_SESSIONS_PER_USER", 50, 1, 10_000),
  };
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

const DAY = 24 * 3600;

function readThrottle(read: EnvReader, problems: string[]): ThrottleLimits {
  const limits: ThrottleLimits = {
    loginMaxFailures: read.integer("LOGIN_MAX_FAILURES", 5, 1, 1000),
    loginFailureWindow: read.integer("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, 1, DAY),
    loginBlock: read.integer("LOGIN_BLOCK_SECONDS", 60, 1, DAY),
    loginMaxBlock: read.integer("LOGIN_MAX_BLOCK_SECONDS", 15 * 60, 1, DAY),
    loginMaxFailuresPerIp: read.integer("LOGIN_MAX_FAILURES_PER_IP", 100, 1, 1_000_000),
    loginIpWindow: read.integer("LOGIN_IP_WINDOW_SECONDS", 3600, 1, DAY),
    registerMaxPerIp: read.integer("REGISTER_MAX_PER_IP", 10, 1, 1_000_000),
    registerWindow: read.integer("REGISTER_WINDOW_SECONDS", 3600, 1, DAY),
  };
  if (limits.loginMaxBlock < limits.loginBlock) {
    problems.push("LOGIN_MAX_BLOCK_SECONDS must be at least LOGIN_BLOCK_SECONDS");
  }
  return limits;
}

/** A hop count ("1") or comma-separated proxy addresses and CIDRs ("10.0.0.0/8, ::1"), as express and fastify take them. */
function readTrustProxy(env: Env, problems: string[]): TrustProxy {
  const raw = env.TRUST_PROXY?.trim();
  if (!raw) return null;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops < 1 || hops > 100) problems.push(`TRUST_PROXY as a hop count must be from 1 to 100, got "${raw}"`);
    return hops;
  }
  const entries = raw.split(",").map((entry) => entry.trim());
  const invalid = entries.filter((entry) => !isAddressOrCidr(entry));
  if (invalid.length > 0) {
    problems.push(`TRUST_PROXY must be a hop count or comma-separated IP addresses and CIDRs; not valid: ${invalid.join(", ")}`);
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const [address = "", bits, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
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
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === "object") deepFreeze(child);
  }
  return Object.freeze(value);
}
