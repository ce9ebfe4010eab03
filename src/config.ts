import { randomBytes } from "node:crypto";
import { accessSync, constants, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import type { Role } from "@revocable-auth/verifier";
import { DEFAULT_DPOP_MAX_SKEW_SECONDS, ROLES } from "@revocable-auth/verifier/internal";
import { resolve } from "node:path";
import {
  ASYMMETRIC_ALGORITHMS,
  generatePrivateJwk,
  HMAC_ALGORITHMS,
  isAsymmetric,
  parseKeySet,
  type Algorithm,
  type AsymmetricAlgorithm,
  type KeyMaterial,
  type PrivateJwk,
} from "./auth/tokens/signing-keys";
import type { FailureMode } from "./auth/tokens/authenticator";

export type { Algorithm };

export interface Config {
  readonly port: number;
  /** The address to listen on: HOST, else "localhost" outside production and "::" (every interface) in it. */
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
  /** Where Redis is, in one of the three modes; null: the embedded in-memory store. */
  readonly redis: RedisConfig | null;
  /**
   * REDIS_REQUIRE_AOF: refuse to start on a Redis without append-only persistence (or whose
   * persistence cannot be read); on by default in production. Off: a warning only.
   */
  readonly redisRequireAof: boolean;
  /** DATABASE_URL and MIGRATE; null: no Postgres, and the directory stays in Redis or the embedded store. */
  readonly database: DatabaseConfig | null;
  readonly jwt: {
    readonly secret: string;
    /** True when no JWT_SECRET was given and a random one was made for this process. */
    readonly secretGenerated: boolean;
    readonly algorithm: Algorithm;
    /** HMAC: older secrets that still verify (JWT_PREVIOUS_SECRETS), so the secret can rotate. */
    readonly previousSecrets: readonly string[];
    /** ES256/RS256: the private keys (JWT_KEYS_FILE, or one made for this process); empty under HMAC. */
    readonly keys: readonly PrivateJwk[];
    /** ES256/RS256: the kid of the key that signs; null under HMAC. */
    readonly signingKid: string | null;
    /** True when no JWT_KEYS_FILE was given and a key was made for this process. */
    readonly keysGenerated: boolean;
    readonly issuer: string;
    readonly audience: string;
    /** RFC 9068's `client_id` of issued access tokens: the client they were issued to. */
    readonly clientId: string;
  };
  /** Seconds. */
  readonly accessTokenTtl: number;
  /** Seconds. */
  readonly refreshTokenTtl: number;
  readonly admin: { readonly email: string; readonly password: string } | null;
  readonly revocationFailureMode: FailureMode;
  /** Upper bound, in milliseconds, on any store call before it counts as failed. */
  readonly storeTimeoutMs: number;
  /** Seconds a rotated-out refresh token still gets its rotation's outcome again; 0 = strict. */
  readonly refreshReuseGraceSeconds: number;
  readonly logLevel: string;
  /** Serves the GraphiQL explorer at GET /graphql and allows introspection; on by default outside production. */
  readonly explorer: boolean;
  readonly throttle: ThrottleLimits;
  /** The fair queue in front of argon2 (docs/security.md, "Fair hashing"). */
  readonly hashing: HashingLimits;
  readonly limits: OperationLimits;
  /** Starting one more session ends the user's oldest one. */
  readonly maxSessionsPerUser: number;
  readonly live: LiveLimits;
  readonly audit: AuditLimits;
  /** OpenTelemetry tracing; null (the default) is off: no SDK loaded, nothing wrapped. */
  readonly tracing: TracingConfig | null;
  readonly mfa: MfaConfig;
  /** DPoP (RFC 9449): sender-constrained tokens (docs/security.md#dpop). */
  readonly dpop: DpopConfig;
  /** Passkeys (docs/passkeys.md): on by default outside production; null when PASSKEYS=off. */
  readonly passkeys: PasskeyConfig | null;
  /** Outbound mail and the links in it (docs/configuration.md#mail). */
  readonly mail: MailConfig;
  /** REQUIRE_VERIFIED_EMAIL=on: no session starts for an account whose address is not verified. */
  readonly requireVerifiedEmail: boolean;
  /** Seconds a password reset link works. */
  readonly passwordResetTtl: number;
  /** Seconds an email verification (or email change confirmation) link works. */
  readonly emailVerificationTtl: number;
  /** Seconds a sign-in, step-up or reauthenticate counts as recent, for adding a credential. */
  readonly reauthMaxAgeSeconds: number;
  /** Browser pages on other origins (docs/clients.md#a-spa-on-another-origin). */
  readonly browsers: BrowserOrigins;
  /** Sign-in with OpenID providers and GitHub (docs/social.md); no providers when OIDC_PROVIDERS is unset. */
  readonly federation: FederationConfig;
  /** The hosted sign-in and account pages under /auth/ (docs/pages.md). */
  readonly pages: PagesConfig;
  /** This API as an OAuth 2.1 / OpenID provider (docs/oauth-provider.md); null unless OAUTH_PROVIDER=on. */
  readonly oauth: OAuthProviderConfig | null;
  /** How the OAuth provider's back-channel logouts are delivered (src/auth/oauth/backchannel-logout.ts); read whether or not it is on. */
  readonly oauthBackchannel: BackchannelLogoutConfig;
}

/** OAUTH_PROVIDER=on: other apps sign in through this API (src/auth/oauth). */
export interface OAuthProviderConfig {
  /**
   * OAUTH_ISSUER: the public URL relying parties know this provider by, without a trailing slash;
   * outside production PUBLIC_URL's origin, else http://localhost:PORT. Every endpoint sits under it.
   */
  readonly issuer: string;
}

/** OAUTH_BACKCHANNEL_*: how logout tokens reach the relying parties (docs/oauth-provider.md#back-channel-logout). */
export interface BackchannelLogoutConfig {
  /** OAUTH_BACKCHANNEL_TIMEOUT_MS: one POST, at most. */
  readonly timeoutMs: number;
  /** OAUTH_BACKCHANNEL_RETRY_MS: the first wait after a failed attempt, doubled each time (with jitter, at most 10 minutes). */
  readonly retryMs: number;
  /** OAUTH_BACKCHANNEL_MAX_ATTEMPTS: then the delivery is given up. */
  readonly maxAttempts: number;
  /** OAUTH_BACKCHANNEL_MAX_AGE_SECONDS: a delivery not made by then is given up. */
  readonly maxAgeSeconds: number;
  /** OAUTH_BACKCHANNEL_SWEEP_SECONDS: how often each instance looks for ended sessions whose logouts were never queued (an instance died first). */
  readonly sweepSeconds: number;
}

/** HOSTED_PAGES, BRAND_NAME, BRAND_LOGO_URL (docs/pages.md). */
export interface PagesConfig {
  /** HOSTED_PAGES=on (the default): the routes exist, and mail links point to them unless APP_URL names another app. */
  readonly enabled: boolean;
  readonly brandName: string;
  /** An http(s) URL shown above every page's heading; null: the brand name alone. */
  readonly brandLogoUrl: string | null;
}

/** Which browser pages may call this API with its refresh cookie, and how that cookie is scoped. */
export interface BrowserOrigins {
  /** CORS_ORIGINS: the exact origins (`scheme://host[:port]`) of pages on other origins allowed to call /graphql with credentials. */
  readonly corsOrigins: readonly string[];
  /**
   * PUBLIC_URL's origin: this API as browsers reach it, when a proxy in front rewrites the Host
   * header; null: the origin a request was sent to (its Host) is the API's own.
   */
  readonly publicOrigin: string | null;
  /** REFRESH_COOKIE_SAMESITE: the refresh cookie's SameSite attribute (it is always Secure and HttpOnly). */
  readonly refreshCookieSameSite: "strict" | "lax" | "none";
}

/** The names whose issuer (or, for GitHub, endpoints) is preset. */
export const PRESET_ISSUERS: Readonly<Record<string, string>> = Object.freeze({
  google: "https://accounts.google.com",
  // Microsoft's multi-tenant issuer is templated ({tenantid}), which no strict issuer check accepts:
  // a tenant's own issuer (OIDC_MICROSOFT_ISSUER=https://login.microsoftonline.com/<tenant>/v2.0) is needed for that.
  microsoft: "https://login.microsoftonline.com/common/v2.0",
  apple: "https://appleid.apple.com",
});

/**
 * The names whose provider answers the callback with a cross-site form POST (OAuth 2.0 Form Post
 * Response Mode): Apple does so whenever the name or address scope is asked for.
 */
export const PRESET_FORM_POST: ReadonlySet<string> = new Set(["apple"]);

/** GitHub is OAuth 2.0 without OpenID; these are its documented endpoints. */
export const GITHUB_ENDPOINTS = Object.freeze({
  authorizationUrl: "https://github.com/login/oauth/authorize",
  tokenUrl: "https://github.com/login/oauth/access_token",
  apiUrl: "https://api.github.com",
});

/** One provider of OIDC_PROVIDERS. */
export type FederationProvider = {
  /** The name in OIDC_PROVIDERS, lower-case: the `:provider` of the routes and the `id` of signInProviders. */
  readonly id: string;
  readonly label: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Space-separated, as sent. */
  readonly scopes: string;
} & (
  | {
      readonly kind: "oidc";
      readonly issuer: string;
      /**
       * OIDC_<N>_RESPONSE_MODE: how the provider returns to the callback. `query`: a GET redirect;
       * `form_post`: a POST of a form from the provider's site (Apple's preset), which needs the
       * flow cookie to be SameSite=None.
       */
      readonly responseMode: "query" | "form_post";
    }
  | { readonly kind: "github"; readonly authorizationUrl: string; readonly tokenUrl: string; readonly apiUrl: string }
);

export interface FederationConfig {
  readonly providers: readonly FederationProvider[];
  /**
   * ALLOWED_REDIRECT_URLS: where a sign-in may return. An entry ending in `*` allows its origin and
   * any path under the prefix before the `*`; any other entry allows that origin and path exactly.
   */
  readonly allowedRedirectUrls: readonly string[];
  /** PUBLIC_URL: this API's own origin as browsers reach it; the callback URLs registered at each provider start with it. */
  readonly publicUrl: string;
}

/** GraphQL over WebSocket (docs/live.md). */
export interface LiveLimits {
  /** Every open connection is re-checked against the store at least this often, in seconds. */
  readonly recheckSeconds: number;
  /** One more connection of a user on this instance closes their oldest. */
  readonly maxConnectionsPerUser: number;
  readonly maxSubscriptionsPerConnection: number;
  /** Sockets of one client IP (an IPv6 /64) not yet authenticated, on this instance; one more upgrade gets 429. */
  readonly maxPendingPerClient: number;
  /** Seconds between server pings; a peer silent for a whole period is dropped. */
  readonly pingSeconds: number;
  /** Browser origins allowed to open a socket (exact `scheme://host[:port]`); null: any. */
  readonly allowedOrigins: readonly string[] | null;
  /** Audit events held for one live `auditEvents` subscriber that has not read them; one more ends its subscription. */
  readonly auditMaxQueued: number;
}

/** On when OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set; the exporter reads the OTEL_* variables itself. */
export interface TracingConfig {
  readonly endpoint: string;
  readonly serviceName: string;
  readonly sampler: TraceSampler;
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL; the spec's default, http/protobuf. */
  readonly protocol: OtlpProtocol;
}

/** The OTLP/HTTP encodings the SDK's exporters speak; grpc, the spec's third, is not shipped. */
export const OTLP_PROTOCOLS = ["http/protobuf", "http/json"] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** OTEL_TRACES_SAMPLER's values that need no remote service. */
export const TRACE_SAMPLERS = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"] as const;

/** Which traces are recorded and exported; `ratio` is OTEL_TRACES_SAMPLER_ARG, for the two `traceidratio` samplers. */
export interface TraceSampler {
  readonly name: (typeof TRACE_SAMPLERS)[number];
  readonly ratio: number;
}

/** How much of the audit trail Redis keeps (docs/operations.md#the-audit-trail). */
export interface AuditLimits {
  readonly retentionDays: number;
  readonly maxEventsPerUser: number;
  /** The global stream's bound, besides the age: a flood of failed logins cannot grow it without end. */
  readonly maxEvents: number;
}

/** DPoP, sender-constrained tokens (docs/security.md#dpop). */
export interface DpopConfig {
  /** DPOP: `off` ignores proofs; `optional` binds the tokens of a sign-in that sends one; `required` refuses a sign-in without one. */
  readonly mode: "off" | "optional" | "required";
  /** DPOP_REQUIRED_FOR_ROLES: a sign-in of a holder of these roles needs a proof even under `optional`. */
  readonly requiredForRoles: readonly Role[];
  /** DPOP_MAX_SKEW_SECONDS: how far a proof's `iat` may be from this server's clock, either way. */
  readonly maxSkewSeconds: number;
  /** DPOP_NONCE: every proof must carry a current server nonce (DPoP-Nonce, RFC 9449 §8). */
  readonly nonce: boolean;
}

/** The second factor (docs/mfa.md). */
export interface MfaConfig {
  /** MFA_ENCRYPTION_KEY: 32 bytes, base64; seals TOTP secrets (AES-256-GCM). */
  readonly encryptionKey: string;
  /** MFA_PREVIOUS_ENCRYPTION_KEYS: older keys that still open what they sealed, while rotating. */
  readonly previousEncryptionKeys: readonly string[];
  /** True when no MFA_ENCRYPTION_KEY was given and one was made for this process. */
  readonly keyGenerated: boolean;
  /** MFA_ISSUER: the name authenticator apps show for the account. */
  readonly issuer: string;
  /** MFA_REQUIRED_FOR_ROLES: holders of these roles must be at aal2 for those roles' operations. */
  readonly requiredForRoles: readonly Role[];
  /** MFA_PENDING_TTL_SECONDS: how long a password sign-in of an enrolled user waits for verifyMfa. */
  readonly pendingTtlSeconds: number;
  /** MFA_PENDING_MAX_PER_USER: sign-ins waiting for their second factor per user; one more ends the oldest of them. */
  readonly pendingMaxPerUser: number;
}

/** The WebAuthn relying party: who the passkeys are for, and the pages that may use them. */
export interface PasskeyConfig {
  /** WEBAUTHN_RP_ID: the domain passkeys are scoped to; every origin's host is it or under it. */
  readonly rpId: string;
  readonly rpName: string;
  /** WEBAUTHN_ORIGINS: the exact origins (scheme, host, port) a ceremony may come from. */
  readonly origins: readonly string[];
}

export interface MailConfig {
  /** smtp: MAIL_URL is set. log: no MAIL_URL outside production; mails go to the log. off: MAIL_URL=off. */
  readonly transport: "smtp" | "log" | "off";
  /** The smtp:// or smtps:// URL, credentials included; null unless transport is smtp. */
  readonly url: string | null;
  readonly from: string;
  /** The frontend's base URL, without a trailing slash: every link in a mail starts with it. */
  readonly appUrl: string;
  /** APP_URL was set; unset, the links go to the hosted pages when they are on (docs/pages.md#mail-links). */
  readonly appUrlSet: boolean;
  /** Tries per mail before it is given up on (and counted as failed). */
  readonly maxAttempts: number;
  /** Where the templates are: <name>.txt (first line "Subject: …") and <name>.html. */
  readonly templatesDir: string;
}

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
  /** Wrong second-factor codes per user, and per session, within `mfaFailureWindow` (MFA_THROTTLED). */
  readonly mfaMaxFailures: number;
  readonly mfaFailureWindow: number;
  /** passkeyLoginOptions calls per client IP within `passkeyOptionsWindow`: each stores a challenge. */
  readonly passkeyOptionsMaxPerIp: number;
  readonly passkeyOptionsWindow: number;
  /** Provider sign-ins started (GET /auth/oidc/:provider/start) per client IP within `oidcStartWindow`: each stores a 10-minute flow. */
  readonly oidcStartMaxPerIp: number;
  readonly oidcStartWindow: number;
  /**
   * Recovery and verification mails asked within `recoveryWindow`: for one address from every client
   * (the cap that bounds mail bombing), for one address from one client IP, and from one client IP.
   */
  readonly recoveryMaxPerAddress: number;
  readonly recoveryMaxPerAddressAndIp: number;
  readonly recoveryMaxPerIp: number;
  readonly recoveryWindow: number;
}

/** How password hashing is shared out between clients, per process. */
export interface HashingLimits {
  /** argon2 calls at once; defaults to the thread pool's size. */
  readonly maxInFlight: number;
  /** At most this many of one client IP's (an IPv6 /64's) calls at once. */
  readonly maxInFlightPerClient: number;
  /** One client's waiting calls; past it, 429 LOGIN_THROTTLED. */
  readonly maxQueuedPerClient: number;
  /** Waiting calls of every client together; past it, 429 LOGIN_THROTTLED. */
  readonly maxQueued: number;
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

/**
 * Postgres: with DATABASE_URL the directory (users, credentials, linked identities, OAuth clients)
 * lives there, and Redis keeps the hot state (docs/operations.md#postgres).
 */
export interface DatabaseConfig {
  /** A postgres:// or postgresql:// URL, credentials included; TLS through its sslmode, as pg reads it. */
  readonly url: string;
  /** MIGRATE=on: apply pending migrations at start. off: refuse to start while any is pending, naming them. */
  readonly migrate: boolean;
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
/** Long enough for any retry or second tab; a stolen token replayed later than this ends the session. */
const MAX_REFRESH_REUSE_GRACE_SECONDS = 300;
const MAX_WORKERS = 256;
const MAX_PROXY_HOPS = 32;
const MAX_MIN_REPLICAS = 16;
const DAY = 24 * 3600;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
/** The sslmode values pg (node-postgres 8) reads; it takes prefer, require and verify-ca as verify-full. */
const SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full", "no-verify"] as const;

/**
 * Reads and validates the environment once; every problem is reported, each naming its variable.
 * An empty value counts as unset, as `VAR=` lines in compose files and .env files mean.
 */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);
  const nodeEnv = env.NODE_ENV ?? "development";
  const production = nodeEnv === "production";

  const algorithm = read.oneOf("JWT_ALGORITHM", [...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS], "HS256");
  const secret = readSecret(env, production && !isAsymmetric(algorithm), problems);
  const keySet = readKeySet(env, algorithm, production, problems);
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

  // The thread pool's default depends on WORKERS; PORT and HOST are read first still, so problems keep their order.
  const port = read.integer("PORT", 4000, 0, 65535);
  // A first run (random secret, explorer, introspection) stays on this machine; containers set HOST=0.0.0.0.
  const host = read.host("HOST", production ? "::" : "localhost");
  const workers = read.workers("WORKERS");
  const browsers = readBrowserOrigins(env, read, host, problems);
  const base: Omit<Config, "hashing"> = {
    port,
    host,
    workers,
    trustProxy: read.trustProxy("TRUST_PROXY"),
    nodeEnv,
    production,
    redisUrl: redis?.mode === "single" ? redis.url : null,
    redis,
    redisRequireAof: read.oneOf("REDIS_REQUIRE_AOF", ["on", "off"] as const, production ? "on" : "off") === "on",
    database: readDatabase(env, read, production, problems),
    jwt: {
      secret: secret ?? "",
      secretGenerated: !env.JWT_SECRET && !isAsymmetric(algorithm),
      algorithm,
      previousSecrets: readPreviousSecrets(env, algorithm, problems),
      ...keySet,
      issuer: read.text("JWT_ISSUER", "revocable-auth-api"),
      audience: read.text("JWT_AUDIENCE", "revocable-auth-api"),
      // This API is its own (first-party) client unless told otherwise.
      clientId: read.text("JWT_CLIENT_ID", env.JWT_ISSUER || "revocable-auth-api"),
    },
    accessTokenTtl,
    refreshTokenTtl,
    admin: readAdmin(env, problems),
    revocationFailureMode: read.oneOf("REVOCATION_FAILURE_MODE", ["closed", "open"] as const, "closed"),
    storeTimeoutMs: read.integer("STORE_TIMEOUT_MS", 1000, 50, 60_000),
    refreshReuseGraceSeconds: read.integer("REFRESH_REUSE_GRACE_SECONDS", 10, 0, MAX_REFRESH_REUSE_GRACE_SECONDS),
    logLevel: read.oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    explorer: read.oneOf("EXPLORER", ["on", "off"] as const, production ? "off" : "on") === "on",
    throttle: readThrottle(read, problems),
    limits: {
      maxTokens: read.integer("MAX_TOKENS", 1000, 50, 100_000),
      maxDepth: read.integer("MAX_DEPTH", 8, 1, 100),
      maxAliases: read.integer("MAX_ALIASES", 15, 0, 1000),
      maxDirectives: read.integer("MAX_DIRECTIVES", 20, 0, 1000),
      maxCost: read.integer("MAX_COST", 5000, 1, 1_000_000),
    },
    maxSessionsPerUser: read.integer("MAX_SESSIONS_PER_USER", 50, 1, 10_000),
    live: {
      recheckSeconds: read.integer("LIVE_RECHECK_SECONDS", 5, 1, 300),
      maxConnectionsPerUser: read.integer("LIVE_MAX_CONNECTIONS_PER_USER", 20, 1, 10_000),
      maxSubscriptionsPerConnection: read.integer("LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION", 10, 1, 1000),
      maxPendingPerClient: read.integer("LIVE_MAX_PENDING_PER_IP", 50, 1, 1_000_000),
      pingSeconds: read.integer("LIVE_PING_SECONDS", 30, 1, 3600),
      // Unset: the pages allowed to call /graphql across origins may open their sockets too.
      allowedOrigins: read.origins("LIVE_ALLOWED_ORIGINS") ?? (browsers.corsOrigins.length > 0 ? browsers.corsOrigins : null),
      auditMaxQueued: read.integer("LIVE_AUDIT_MAX_QUEUED", 1000, 100, 100_000),
    },
    audit: {
      retentionDays: read.integer("AUDIT_RETENTION_DAYS", 90, 1, 3650),
      maxEventsPerUser: read.integer("AUDIT_MAX_EVENTS_PER_USER", 1000, 1, 1_000_000),
      maxEvents: read.integer("AUDIT_MAX_EVENTS", 1_000_000, 100, 100_000_000),
    },
    mfa: readMfa(env, read, production, problems),
    dpop: readDpop(env, read, problems),
    passkeys: readPasskeys(env, read, production, port, problems),
    threadPoolSize: read.integer("UV_THREADPOOL_SIZE", Math.max(1, Math.floor(availableParallelism() / workers) - 1), 1, 1024),
    tracing: readTracing(env, problems),
    mail: readMail(env, read, production, problems),
    requireVerifiedEmail: read.oneOf("REQUIRE_VERIFIED_EMAIL", ["on", "off"] as const, "off") === "on",
    passwordResetTtl: read.integer("PASSWORD_RESET_TTL_SECONDS", 1800, 1, DAY),
    emailVerificationTtl: read.integer("EMAIL_VERIFICATION_TTL_SECONDS", DAY, 1, 7 * DAY),
    reauthMaxAgeSeconds: read.integer("REAUTH_MAX_AGE_SECONDS", 300, 1, DAY),
    browsers,
    federation: readFederation(env, production, port, browsers.publicOrigin, problems),
    pages: readPages(env, read, problems),
    oauth: readOAuthProvider(env, read, production, port, algorithm, browsers.publicOrigin, problems),
    oauthBackchannel: readBackchannelLogout(read),
  };
  const config: Config = { ...base, hashing: readHashing(read, base.threadPoolSize) };
  if (config.requireVerifiedEmail && config.mail.transport === "off") {
    problems.push("REQUIRE_VERIFIED_EMAIL=on needs mail: nobody could verify an address with MAIL_URL=off");
  }
  if (config.workers > 1 && config.redis === null && !problems.some((problem) => problem.startsWith("REDIS_"))) {
    problems.push("WORKERS greater than 1 needs REDIS_URL (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS): with the embedded store each worker would hold its own users and sessions");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

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
      for (const name of ["REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_TLS", "REDIS_MIN_REPLICAS", "REDIS_REQUIRE_AOF"]) {
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

/**
 * DATABASE_URL and MIGRATE. MIGRATE is on by default outside production, where a first start should
 * just work; in production a schema change is a step of the deployment, so a pending migration
 * stops the start instead.
 */
function readDatabase(env: Env, read: EnvReader, production: boolean, problems: string[]): DatabaseConfig | null {
  const url = read.postgresUrl("DATABASE_URL");
  const migrate = read.oneOf("MIGRATE", ["on", "off"] as const, production ? "off" : "on") === "on";
  if (!env.DATABASE_URL) {
    if (env.MIGRATE) problems.push("MIGRATE needs DATABASE_URL");
    return null;
  }
  return url === null ? null : { url, migrate };
}

/** For `npm run migrate`, which needs DATABASE_URL and none of the API's other variables. */
export function loadDatabaseConfig(env: Env): DatabaseConfig {
  const problems: string[] = [];
  const database = readDatabase(env, new EnvReader(env, problems), env.NODE_ENV === "production", problems);
  if (database === null && problems.length === 0) problems.push("DATABASE_URL is required: the Postgres database to migrate (postgres://user:password@host:5432/database)");
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(database!);
}

/**
 * For `npm run directory:resync`, which writes the Redis the API serves from: DATABASE_URL and the
 * API's own Redis variables (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS, with their
 * credentials and TLS), and none of the others.
 */
export function loadDirectoryStoresConfig(env: Env): { readonly database: DatabaseConfig; readonly redis: RedisConfig } {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);
  const database = readDatabase(env, read, env.NODE_ENV === "production", problems);
  if (database === null && problems.length === 0) problems.push("DATABASE_URL is required: the Postgres database the API's directory is in (postgres://user:password@host:5432/database)");
  const redis = readRedis(env, read, problems);
  if (redis === null && problems.length === 0) problems.push("REDIS_URL (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS) is required: the Redis the API serves from");
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({ database: database!, redis: redis! });
}

/** The standard OpenTelemetry variables: the endpoint turns tracing on, OTEL_SDK_DISABLED=true keeps it off. */
function readTracing(env: Env, problems: string[]): TracingConfig | null {
  const name = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT";
  const endpoint = env[name]?.trim();
  if (!endpoint || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return null;
  const sampler = readSampler(env, problems);
  const protocol = readProtocol(env, problems);
  try {
    const url = new URL(endpoint);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
  } catch {
    problems.push(`${name} must be an http:// or https:// URL (an OTLP/HTTP collector), got "${endpoint}"`);
    return null;
  }
  return sampler === null || protocol === null ? null : { endpoint, serviceName: env.OTEL_SERVICE_NAME?.trim() || "revocable-auth-api", sampler, protocol };
}

/**
 * The signal's own variable first, as the spec orders them. An encoding the exporters do not speak
 * (grpc) refuses the start: spans sent in one a collector does not expect are lost without a word.
 */
function readProtocol(env: Env, problems: string[]): OtlpProtocol | null {
  const name = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const raw = env[name]?.trim().toLowerCase() || "http/protobuf";
  const protocol = OTLP_PROTOCOLS.find((candidate) => candidate === raw);
  if (protocol === undefined) problems.push(`${name} must be http/protobuf or http/json (OTLP over HTTP, port 4318), got "${env[name]}"`);
  return protocol ?? null;
}

/**
 * OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the OpenTelemetry spec names them. Where the
 * SDK would log a bad value and trace everything, this refuses to start: a ratio that silently
 * became 1.0 is a surprise on the bill, and one that became "always on" is a surprise in the CPU.
 */
function readSampler(env: Env, problems: string[]): TraceSampler | null {
  const raw = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || "parentbased_always_on";
  const name = TRACE_SAMPLERS.find((candidate) => candidate === raw);
  if (name === undefined) {
    problems.push(`OTEL_TRACES_SAMPLER must be one of ${TRACE_SAMPLERS.join(", ")}, got "${env.OTEL_TRACES_SAMPLER}"`);
    return null;
  }
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (!name.endsWith("traceidratio")) {
    if (!arg) return { name, ratio: 1 };
    problems.push(`OTEL_TRACES_SAMPLER_ARG is the ratio of traceidratio and parentbased_traceidratio; OTEL_TRACES_SAMPLER=${name} takes none`);
    return null;
  }
  const ratio = arg ? Number(arg) : 1;
  if (arg && (!/^(\d+(\.\d*)?|\.\d+)$/.test(arg) || ratio > 1)) {
    problems.push(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1 (the share of traces kept), got "${arg}"`);
    return null;
  }
  return { name, ratio };
}

function readSecret(env: Env, required: boolean, problems: string[]): string | null {
  const secret = env.JWT_SECRET || undefined;
  if (secret === undefined) {
    if (required) problems.push("JWT_SECRET is required when NODE_ENV=production");
    return randomBytes(48).toString("base64url");
  }
  if (Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
    problems.push(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes`);
    return null;
  }
  return secret;
}

function readPreviousSecrets(env: Env, algorithm: Algorithm, problems: string[]): string[] {
  const secrets = (env.JWT_PREVIOUS_SECRETS ?? "").split(",").map((value) => value.trim()).filter((value) => value !== "");
  if (secrets.length > 0 && isAsymmetric(algorithm)) {
    problems.push(`JWT_PREVIOUS_SECRETS is for HMAC algorithms; with ${algorithm}, keep older keys in JWT_KEYS_FILE`);
  }
  if (secrets.some((value) => Buffer.byteLength(value, "utf8") < MIN_SECRET_BYTES)) {
    problems.push(`JWT_PREVIOUS_SECRETS: every secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return secrets;
}

type KeySetConfig = Pick<Config["jwt"], "keys" | "signingKid" | "keysGenerated">;

/** ES256/RS256: the private key set from JWT_KEYS_FILE; outside production, one key made for this process. */
function readKeySet(env: Env, algorithm: Algorithm, production: boolean, problems: string[]): KeySetConfig {
  const file = env.JWT_KEYS_FILE || undefined;
  const signingKid = env.JWT_SIGNING_KID || undefined;
  if (!isAsymmetric(algorithm)) {
    if (file !== undefined || signingKid !== undefined) {
      problems.push(`JWT_KEYS_FILE and JWT_SIGNING_KID are for ES256 and RS256; with ${algorithm}, JWT_SECRET signs`);
    }
    return { keys: [], signingKid: null, keysGenerated: false };
  }
  if (file === undefined) {
    if (production) problems.push(`JWT_KEYS_FILE is required when NODE_ENV=production and JWT_ALGORITHM=${algorithm}`);
    const key = generatePrivateJwk(algorithm);
    return { keys: [key], signingKid: key.kid, keysGenerated: true };
  }
  const { keys, problems: keyProblems } = readKeysFile(file, algorithm);
  problems.push(...keyProblems);
  if (keys.length === 0) return { keys, signingKid: null, keysGenerated: false };
  if (signingKid === undefined && keys.length > 1) {
    problems.push("JWT_SIGNING_KID is required when JWT_KEYS_FILE holds more than one key");
  } else if (signingKid !== undefined && !keys.some((key) => key.kid === signingKid)) {
    problems.push(`JWT_SIGNING_KID "${signingKid}" is not a kid in JWT_KEYS_FILE (${keys.map((key) => key.kid).join(", ")})`);
  }
  return { keys, signingKid: signingKid ?? keys[0]!.kid, keysGenerated: false };
}

function readKeysFile(file: string, algorithm: AsymmetricAlgorithm): { keys: PrivateJwk[]; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return { keys: [], problems: [`JWT_KEYS_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`] };
  }
  return parseKeySet(text, algorithm, "JWT_KEYS_FILE");
}

/** The key material for the token key set, from a loaded configuration. */
export function keyMaterial(jwt: Config["jwt"]): KeyMaterial {
  if (isAsymmetric(jwt.algorithm)) return { algorithm: jwt.algorithm, keys: jwt.keys, signingKid: jwt.signingKid! };
  return { algorithm: jwt.algorithm, secret: jwt.secret, previousSecrets: jwt.previousSecrets };
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

/** argon2 runs on the thread pool: by default as many at once as it has threads, so the rest wait in turn here. */
function readHashing(read: EnvReader, threadPoolSize: number): HashingLimits {
  return {
    maxInFlight: read.integer("HASH_MAX_IN_FLIGHT", threadPoolSize, 1, 1024),
    maxInFlightPerClient: read.integer("HASH_MAX_IN_FLIGHT_PER_IP", 2, 1, 1024),
    maxQueuedPerClient: read.integer("HASH_QUEUE_MAX_PER_IP", 64, 0, 100_000),
    maxQueued: read.integer("HASH_QUEUE_MAX", 1000, 0, 1_000_000),
  };
}

const MFA_KEY_BYTES = 32;

/** A comma-separated list of roles, in ROLES' order; an unknown role is a problem. */
function readRoles(env: Env, name: string, problems: string[]): Role[] {
  const roles = (env[name] ?? "").split(",").map((value) => value.trim()).filter((value) => value !== "");
  const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
  if (unknown.length > 0) problems.push(`${name} must list roles among ${ROLES.join(", ")}, got "${unknown.join(", ")}"`);
  return ROLES.filter((role) => roles.includes(role));
}

function readDpop(env: Env, read: EnvReader, problems: string[]): DpopConfig {
  const mode = read.oneOf("DPOP", ["off", "optional", "required"] as const, "optional");
  const requiredForRoles = readRoles(env, "DPOP_REQUIRED_FOR_ROLES", problems);
  if (mode === "off" && requiredForRoles.length > 0) problems.push("DPOP_REQUIRED_FOR_ROLES needs DPOP=optional or DPOP=required");
  const nonce = read.oneOf("DPOP_NONCE", ["on", "off"] as const, "off") === "on";
  if (mode === "off" && nonce) problems.push("DPOP_NONCE=on needs DPOP=optional or DPOP=required");
  return { mode, requiredForRoles, maxSkewSeconds: read.integer("DPOP_MAX_SKEW_SECONDS", DEFAULT_DPOP_MAX_SKEW_SECONDS, 1, 600), nonce };
}

function readMfa(env: Env, read: EnvReader, production: boolean, problems: string[]): MfaConfig {
  const given = env.MFA_ENCRYPTION_KEY || undefined;
  if (given === undefined && production) problems.push("MFA_ENCRYPTION_KEY is required when NODE_ENV=production: it seals the TOTP secrets");
  const isKey = (value: string) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) && Buffer.from(value, "base64").length === MFA_KEY_BYTES;
  if (given !== undefined && !isKey(given)) problems.push(`MFA_ENCRYPTION_KEY must be ${MFA_KEY_BYTES} bytes in base64 (openssl rand -base64 32)`);
  const previous = (env.MFA_PREVIOUS_ENCRYPTION_KEYS ?? "").split(",").map((value) => value.trim()).filter((value) => value !== "");
  if (!previous.every(isKey)) problems.push(`MFA_PREVIOUS_ENCRYPTION_KEYS: every key must be ${MFA_KEY_BYTES} bytes in base64`);
  return {
    encryptionKey: given ?? randomBytes(MFA_KEY_BYTES).toString("base64"),
    previousEncryptionKeys: previous,
    keyGenerated: given === undefined,
    issuer: read.text("MFA_ISSUER", "Revocable Auth"),
    requiredForRoles: readRoles(env, "MFA_REQUIRED_FOR_ROLES", problems),
    pendingTtlSeconds: read.integer("MFA_PENDING_TTL_SECONDS", 300, 1, 3600),
    pendingMaxPerUser: read.integer("MFA_PENDING_MAX_PER_USER", 5, 1, 100),
  };
}

/**
 * PASSKEYS, WEBAUTHN_RP_ID, WEBAUTHN_RP_NAME, WEBAUTHN_ORIGINS. Outside production the defaults
 * fit a browser on this machine (localhost on PORT); in production, the RP ID and origins must be said.
 */
function readPasskeys(env: Env, read: EnvReader, production: boolean, port: number, problems: string[]): PasskeyConfig | null {
  if (read.oneOf("PASSKEYS", ["on", "off"] as const, production ? "off" : "on") === "off") return null;
  const rawRpId = env.WEBAUTHN_RP_ID?.trim().toLowerCase();
  const rawOrigins = env.WEBAUTHN_ORIGINS?.trim();
  if (production && !rawRpId) problems.push("WEBAUTHN_RP_ID is required when NODE_ENV=production and PASSKEYS=on: the domain passkeys belong to");
  if (production && !rawOrigins) problems.push("WEBAUTHN_ORIGINS is required when NODE_ENV=production and PASSKEYS=on: the exact origins of the pages that use passkeys");
  const rpId = rawRpId || "localhost";
  if (!HOSTNAME.test(rpId) || isIP(rpId) !== 0) problems.push(`WEBAUTHN_RP_ID must be a domain name (e.g. example.com), got "${rpId}"`);
  const origins = (rawOrigins || `http://localhost:${port}`).split(",").map((entry) => entry.trim());
  // A missing value was reported above; its development default is no second problem.
  for (const origin of rawOrigins || !production ? origins : []) {
    const problem = originProblem(origin, rpId, production);
    if (problem) problems.push(`WEBAUTHN_ORIGINS: ${problem}`);
  }
  return { rpId, rpName: read.text("WEBAUTHN_RP_NAME", "revocable-auth-api"), origins };
}

/** An origin as a browser writes it (no path, no trailing slash), on the RP ID or a subdomain of it. */
function originProblem(origin: string, rpId: string, production: boolean): string | null {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `"${origin}" is not an origin such as https://example.com`;
  }
  if (url.origin !== origin) return `"${origin}" must be written as its origin alone, like "${url.origin}" (checked exactly)`;
  if (url.protocol !== "https:" && !(url.protocol === "http:" && url.hostname === "localhost" && !production)) {
    return `"${origin}" must be https (http only for localhost outside production)`;
  }
  if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`)) return `"${origin}" is not on WEBAUTHN_RP_ID "${rpId}" or a subdomain of it`;
  return null;
}

/**
 * CORS_ORIGINS, PUBLIC_URL and REFRESH_COOKIE_SAMESITE. SameSite=None sends the refresh cookie
 * with requests from any site, so it leans wholly on Secure: the API must be reached over https,
 * which only PUBLIC_URL can say (TLS ends at a proxy in front), or be on this machine alone.
 */
function readBrowserOrigins(env: Env, read: EnvReader, host: string, problems: string[]): BrowserOrigins {
  let corsOrigins: readonly string[] | null = null;
  if (env.CORS_ORIGINS?.trim() === "*") problems.push("CORS_ORIGINS cannot be *: the refresh cookie rides these requests, so list each origin (https://app.example.com)");
  else corsOrigins = read.origins("CORS_ORIGINS");
  const publicUrl = env.PUBLIC_URL?.trim().replace(/\/$/, "") || null;
  const publicOrigin = publicUrl !== null && isOrigin(publicUrl) ? publicUrl : null;
  if (publicUrl !== null && publicOrigin === null) {
    problems.push(`PUBLIC_URL must be this API's origin as browsers reach it (https://auth.example.com: scheme, host and port only), got "${env.PUBLIC_URL}"`);
  }
  const sameSite = read.oneOf("REFRESH_COOKIE_SAMESITE", ["strict", "lax", "none"] as const, "strict");
  if (sameSite === "none" && publicUrl === null && !isLoopback(host)) {
    problems.push(`REFRESH_COOKIE_SAMESITE=none needs https: set PUBLIC_URL to this API's https origin (HOST "${host}" is not a loopback address, so plain http could reach it)`);
  }
  if (sameSite === "none" && publicOrigin !== null && !publicOrigin.startsWith("https:") && !isLoopback(new URL(publicOrigin).hostname)) {
    problems.push(`REFRESH_COOKIE_SAMESITE=none needs https: PUBLIC_URL is "${publicOrigin}" (http only on localhost or a loopback address)`);
  }
  return { corsOrigins: corsOrigins ?? [], publicOrigin, refreshCookieSameSite: sameSite };
}

/**
 * OAUTH_PROVIDER and OAUTH_ISSUER. HMAC keys are refused: relying parties verify ID tokens and access
 * tokens with the published JWKS, and a shared secret can be neither published nor shared with them.
 */
function readOAuthProvider(env: Env, read: EnvReader, production: boolean, port: number, algorithm: Algorithm, publicOrigin: string | null, problems: string[]): OAuthProviderConfig | null {
  const on = read.oneOf("OAUTH_PROVIDER", ["on", "off"] as const, "off") === "on";
  if (!on) {
    if (env.OAUTH_ISSUER?.trim()) problems.push("OAUTH_ISSUER needs OAUTH_PROVIDER=on");
    return null;
  }
  if (!isAsymmetric(algorithm)) {
    problems.push(`OAUTH_PROVIDER=on needs JWT_ALGORITHM=ES256 or RS256: relying parties verify tokens with the published keys, and ${algorithm} signs with a secret that cannot be published (npm run keys -- generate ES256, docs/keys.md)`);
  }
  const given = env.OAUTH_ISSUER?.trim().replace(/\/+$/, "") || null;
  if (given === null) {
    if (production) problems.push("OAUTH_ISSUER is required when NODE_ENV=production and OAUTH_PROVIDER=on: the public https URL of this API");
    else if (publicOrigin === null && port === 0) problems.push("OAUTH_PROVIDER=on with PORT=0 needs OAUTH_ISSUER (or PUBLIC_URL): the issuer is fixed before the port is known");
    return { issuer: publicOrigin ?? `http://localhost:${port}` };
  }
  let url: URL | null = null;
  try {
    url = new URL(given);
  } catch {
    // reported below
  }
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:") || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    problems.push(`OAUTH_ISSUER must be an https URL without query or fragment (https://auth.example.com), got "${env.OAUTH_ISSUER}"`);
  } else if (url.protocol === "http:" && (production || !isLoopback(url.hostname))) {
    problems.push(`OAUTH_ISSUER must be https (http only on localhost outside production), got "${env.OAUTH_ISSUER}"`);
  }
  return { issuer: given };
}

function readBackchannelLogout(read: EnvReader): BackchannelLogoutConfig {
  return {
    timeoutMs: read.integer("OAUTH_BACKCHANNEL_TIMEOUT_MS", 5000, 100, 60_000),
    retryMs: read.integer("OAUTH_BACKCHANNEL_RETRY_MS", 2000, 10, 600_000),
    maxAttempts: read.integer("OAUTH_BACKCHANNEL_MAX_ATTEMPTS", 12, 1, 100),
    maxAgeSeconds: read.integer("OAUTH_BACKCHANNEL_MAX_AGE_SECONDS", 24 * 3600, 60, 7 * 24 * 3600),
    sweepSeconds: read.integer("OAUTH_BACKCHANNEL_SWEEP_SECONDS", 30, 1, 3600),
  };
}

/** localhost (and its subdomains) and loopback addresses: browsers treat them as secure over http, and nobody else reaches them. */
function isLoopback(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost" || bare.endsWith(".localhost")) return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  return bare === "::1";
}

/** The folder of the mail templates shipped with the API: templates/mail beside src/ and dist/. */
const DEFAULT_MAIL_TEMPLATES = resolve(__dirname, "../templates/mail");

/**
 * MAIL_URL: smtp:// or smtps:// (credentials in the URL), or "off". Unset outside production, mails
 * go to the log; production must choose.
 */
function readMail(env: Env, read: EnvReader, production: boolean, problems: string[]): MailConfig {
  const raw = env.MAIL_URL?.trim() || undefined;
  let transport: MailConfig["transport"] = raw === "off" ? "off" : raw === undefined ? "log" : "smtp";
  let url: string | null = null;
  if (transport === "smtp") {
    url = parseSmtpUrl(raw!);
    if (url === null) {
      problems.push("MAIL_URL must be an smtp:// or smtps:// URL (credentials in it: smtp://user:pass@host:587), or off");
      transport = "log";
    }
  }
  if (production && raw === undefined) {
    problems.push("MAIL_URL is required when NODE_ENV=production (smtp://… or smtps://…), or MAIL_URL=off to turn password reset and email verification off");
  }
  const needed = production && transport === "smtp";
  if (needed && !env.APP_URL) problems.push("APP_URL is required with MAIL_URL when NODE_ENV=production: the links in mails point to it");
  if (needed && !env.MAIL_FROM) problems.push("MAIL_FROM is required with MAIL_URL when NODE_ENV=production");
  const appUrl = parseAppUrl(env.APP_URL?.trim() || "http://localhost:3000");
  if (appUrl === null) problems.push(`APP_URL must be an http:// or https:// URL without query or fragment, got "${env.APP_URL}"`);
  const from = read.text("MAIL_FROM", "revocable-auth-api <no-reply@localhost>");
  if (/[\r\n]/.test(from)) problems.push("MAIL_FROM must be one line");
  return {
    transport,
    url,
    from,
    appUrl: appUrl ?? "",
    appUrlSet: Boolean(env.APP_URL?.trim()),
    maxAttempts: read.integer("MAIL_MAX_ATTEMPTS", 4, 1, 10),
    templatesDir: read.text("MAIL_TEMPLATES_DIR", DEFAULT_MAIL_TEMPLATES),
  };
}

function parseSmtpUrl(raw: string): string | null {
  try {
    const url = new URL(raw);
    return (url.protocol === "smtp:" || url.protocol === "smtps:") && url.hostname !== "" ? raw : null;
  } catch {
    return null;
  }
}

/** Links are built from this alone, never from a request's Host or X-Forwarded-Host. */
function parseAppUrl(raw: string): string | null {
  try {
    const url = new URL(raw);
    if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search !== "" || url.hash !== "") return null;
    return url.href.replace(/\/+$/, "");
  } catch {
    return null;
  }
}

const PROVIDER_NAME = /^[a-z][a-z0-9]{0,31}$/;
const DEFAULT_SCOPES = "openid email profile";

/**
 * OIDC_PROVIDERS and each provider's OIDC_<NAME>_* variables, PUBLIC_URL and ALLOWED_REDIRECT_URLS.
 * Only the shape is checked here; discovery happens at start (an unreachable issuer is retried there).
 */
/**
 * `publicOrigin`: PUBLIC_URL as readBrowserOrigins parsed it (null when unset or invalid, a problem
 * then already noted); the callbacks default to this machine's port.
 */
function readFederation(env: Env, production: boolean, port: number, publicOrigin: string | null, problems: string[]): FederationConfig {
  const publicUrl = publicOrigin ?? (env.PUBLIC_URL?.trim() ? null : `http://localhost:${port}`);
  const names = (env.OIDC_PROVIDERS ?? "").split(",").map((name) => name.trim().toLowerCase()).filter((name) => name !== "");
  const providers: FederationProvider[] = [];
  for (const [index, id] of names.entries()) {
    if (!PROVIDER_NAME.test(id)) {
      problems.push(`OIDC_PROVIDERS: "${id}" must be letters and digits only, starting with a letter (at most 32): it names the OIDC_${id.toUpperCase()}_* variables and the routes`);
      continue;
    }
    if (names.indexOf(id) !== index) {
      problems.push(`OIDC_PROVIDERS names "${id}" twice`);
      continue;
    }
    const provider = readProvider(env, id, production, problems);
    if (provider) providers.push(provider);
  }
  const appUrl = parseAppUrl(env.APP_URL?.trim() || "http://localhost:3000");
  const allowedRedirectUrls = readRedirectUrls(env.ALLOWED_REDIRECT_URLS, problems) ?? [appUrl, publicUrl].filter((url): url is string => url !== null).map((url) => `${url}/*`);
  if (providers.length > 0 && production && publicUrl !== null && !publicUrl.startsWith("https://")) {
    problems.push("PUBLIC_URL must be https when NODE_ENV=production and OIDC_PROVIDERS is set: the providers send codes to it");
  }
  return { providers, allowedRedirectUrls, publicUrl: publicUrl ?? "" };
}

function readProvider(env: Env, id: string, production: boolean, problems: string[]): FederationProvider | null {
  const prefix = `OIDC_${id.toUpperCase()}_`;
  const value = (suffix: string) => env[prefix + suffix]?.trim() || undefined;
  const clientId = value("CLIENT_ID");
  const clientSecret = value("CLIENT_SECRET");
  if (!clientId) problems.push(`${prefix}CLIENT_ID is required for the provider "${id}" of OIDC_PROVIDERS`);
  if (!clientSecret) problems.push(`${prefix}CLIENT_SECRET is required for the provider "${id}" of OIDC_PROVIDERS`);
  const label = value("LABEL") ?? id.charAt(0).toUpperCase() + id.slice(1);
  // An endpoint that paths are appended to (GitHub's) loses a trailing "/"; an issuer is kept exactly
  // as written: discovery requires the provider's own `issuer` to be the same string, and some end in "/".
  const url = (suffix: string, fallback: string | undefined, exact = false): string | null => {
    const raw = value(suffix) ?? fallback;
    if (raw === undefined) {
      problems.push(`${prefix}${suffix} is required for the provider "${id}" of OIDC_PROVIDERS`);
      return null;
    }
    const problem = providerUrlProblem(raw, production);
    if (problem) problems.push(`${prefix}${suffix} ${problem}, got "${raw}"`);
    if (problem) return null;
    return exact ? raw : raw.replace(/\/+$/, "");
  };
  if (id === "github") {
    const scopes = value("SCOPES") ?? "read:user user:email";
    const authorizationUrl = url("AUTHORIZATION_URL", GITHUB_ENDPOINTS.authorizationUrl);
    const tokenUrl = url("TOKEN_URL", GITHUB_ENDPOINTS.tokenUrl);
    const apiUrl = url("API_URL", GITHUB_ENDPOINTS.apiUrl);
    if (!clientId || !clientSecret || !authorizationUrl || !tokenUrl || !apiUrl) return null;
    return { id, kind: "github", label: value("LABEL") ?? "GitHub", clientId, clientSecret, scopes, authorizationUrl, tokenUrl, apiUrl };
  }
  const scopes = value("SCOPES") ?? DEFAULT_SCOPES;
  if (!scopes.split(/\s+/).includes("openid")) problems.push(`${prefix}SCOPES must include openid, got "${scopes}"`);
  const issuer = url("ISSUER", PRESET_ISSUERS[id], true);
  const responseMode = value("RESPONSE_MODE") ?? (PRESET_FORM_POST.has(id) ? "form_post" : "query");
  if (responseMode !== "query" && responseMode !== "form_post") problems.push(`${prefix}RESPONSE_MODE must be query or form_post, got "${responseMode}"`);
  if (!clientId || !clientSecret || !issuer || (responseMode !== "query" && responseMode !== "form_post")) return null;
  return { id, kind: "oidc", label, clientId, clientSecret, scopes, issuer, responseMode };
}

/** https, or http to a loopback host outside production (a provider run for development or tests). */
function providerUrlProblem(raw: string, production: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be a URL";
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "") return "must have no query, fragment or credentials";
  const loopback = url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
  if (url.protocol === "https:" || (url.protocol === "http:" && loopback && !production)) return null;
  return "must be https (http only for localhost outside production)";
}

/** Each entry an absolute http(s) URL without query or fragment, optionally ending in `*` (a path prefix). */
function readRedirectUrls(raw: string | undefined, problems: string[]): string[] | null {
  if (raw === undefined || raw.trim() === "") return null;
  const entries = raw.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
  const bad = entries.filter((entry) => parseAppUrl(entry.endsWith("*") ? entry.slice(0, -1) : entry) === null);
  if (bad.length > 0 || entries.length === 0) {
    problems.push(`ALLOWED_REDIRECT_URLS must be comma-separated http(s) URLs without query or fragment, each optionally ending in * (a path prefix), got "${raw}"`);
    return null;
  }
  return entries;
}

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
    mfaMaxFailures: read.integer("MFA_MAX_FAILURES", 5, 1, 1000),
    mfaFailureWindow: read.integer("MFA_FAILURE_WINDOW_SECONDS", 15 * 60, 1, DAY),
    passkeyOptionsMaxPerIp: read.integer("PASSKEY_OPTIONS_MAX_PER_IP", 60, 1, 1_000_000),
    passkeyOptionsWindow: read.integer("PASSKEY_OPTIONS_WINDOW_SECONDS", 60, 1, DAY),
    oidcStartMaxPerIp: read.integer("OIDC_START_MAX_PER_IP", 60, 1, 1_000_000),
    oidcStartWindow: read.integer("OIDC_START_WINDOW_SECONDS", 60, 1, DAY),
    recoveryMaxPerAddress: read.integer("RECOVERY_MAX_PER_ADDRESS", 10, 1, 1_000_000),
    recoveryMaxPerAddressAndIp: read.integer("RECOVERY_MAX_PER_ADDRESS_AND_IP", 3, 1, 1_000_000),
    recoveryMaxPerIp: read.integer("RECOVERY_MAX_PER_IP", 30, 1, 1_000_000),
    recoveryWindow: read.integer("RECOVERY_WINDOW_SECONDS", 3600, 1, DAY),
  };
  if (limits.loginMaxBlock < limits.loginBlock) {
    problems.push("LOGIN_MAX_BLOCK_SECONDS must be at least LOGIN_BLOCK_SECONDS");
  }
  return limits;
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

  /**
   * A postgres:// or postgresql:// URL with a host. Its sslmode must be one pg knows: pg reads an
   * unknown one as "TLS on, verify the certificate" without a word. Problems never quote the URL,
   * which holds the password.
   */
  postgresUrl(name: string): string | null {
    const raw = this.env[name]?.trim();
    if (raw === undefined || raw === "") return null;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      this.problems.push(`${name} must be a postgres:// or postgresql:// URL (postgres://user:password@host:5432/database)`);
      return null;
    }
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
      this.problems.push(`${name} must be a postgres:// or postgresql:// URL, got a ${url.protocol}// URL`);
      return null;
    }
    if (url.hostname === "") {
      this.problems.push(`${name} must name the database server's host (postgres://user:password@host:5432/database)`);
      return null;
    }
    const sslmode = url.searchParams.get("sslmode");
    if (sslmode !== null && !(SSL_MODES as readonly string[]).includes(sslmode)) {
      this.problems.push(`${name}: sslmode must be one of ${SSL_MODES.join(", ")}, got "${sslmode}"`);
      return null;
    }
    for (const file of ["sslrootcert", "sslcert", "sslkey"]) {
      const path = url.searchParams.get(file);
      if (path !== null && !readable(path)) {
        this.problems.push(`${name}: cannot read the ${file} file ${path}`);
        return null;
      }
    }
    return raw;
  }

  /** A comma-separated list of origins (`https://app.example.com`); unset: null. */
  origins(name: string): string[] | null {
    const raw = this.env[name]?.trim();
    if (raw === undefined || raw === "") return null;
    const entries = raw.split(",").map((entry) => entry.trim());
    if (entries.every((entry) => isOrigin(entry))) return entries;
    this.problems.push(`${name} must be a comma-separated list of origins such as https://app.example.com (scheme, host and port only), got "${raw}"`);
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

function readPages(env: Env, read: EnvReader, problems: string[]): PagesConfig {
  const logo = env.BRAND_LOGO_URL?.trim() || null;
  if (logo !== null && !/^https?:\/\/[^\s"'<>]+$/.test(logo)) problems.push(`BRAND_LOGO_URL must be an http:// or https:// URL, got "${logo}"`);
  const brandName = read.text("BRAND_NAME", "revocable-auth-api");
  if (/[\r\n]/.test(brandName) || brandName.length > 100) problems.push("BRAND_NAME must be one line of at most 100 characters");
  return {
    enabled: read.oneOf("HOSTED_PAGES", ["on", "off"] as const, "on") === "on",
    brandName,
    brandLogoUrl: logo,
  };
}

function isOrigin(entry: string): boolean {
  try {
    const url = new URL(entry);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === entry;
  } catch {
    return false;
  }
}

function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split("/");
  const family = isIP(address ?? "");
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === "object") deepFreeze(child);
  }
  return Object.freeze(value);
}
