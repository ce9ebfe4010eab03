/** The notes service's whole configuration: where the auth API's public keys and Redis are. No key, no secret. */
export interface NotesConfig {
  readonly port: number;
  /** Subscriptions over WebSocket (graphql-transport-ws); PORT + 1 unless set. */
  readonly wsPort: number;
  /**
   * This service's URLs as clients reach them, which their DPoP proofs name as `htu`: never the
   * Host header, which a client chooses. Default: localhost on PORT and WS_PORT.
   */
  readonly publicUrl: string;
  readonly publicWsUrl: string;
  /** The auth API's `/.well-known/jwks.json`. */
  readonly jwksUrl: string;
  /** The auth API's JWT_ISSUER and JWT_AUDIENCE. */
  readonly issuer: string;
  readonly audience: string;
  /** The auth API's Redis; this service only reads it (see the verifier's README for the ACL). */
  readonly redisUrl: string;
  readonly failureMode: "closed" | "open";
  /** JWKS cache: max-age and the cooldown between fetches (the verifier's defaults when unset). */
  readonly jwksMaxAgeMs: number | undefined;
  readonly jwksCooldownMs: number | undefined;
  /** The auth API's ACCESS_TOKEN_TTL in seconds: a token living longer was not issued there. Default: what the API's JWKS says, else 24 h. */
  readonly accessTokenTtl: number | undefined;
}

export function loadConfig(env: Record<string, string | undefined>): NotesConfig {
  const missing = ["AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "REDIS_URL"].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`Missing configuration: ${missing.join(", ")}`);
  const port = Number(env.PORT ?? 4100);
  const wsPort = Number(env.WS_PORT ?? port + 1);
  return {
    port,
    wsPort,
    publicUrl: env.PUBLIC_URL ?? `http://localhost:${port}/`,
    publicWsUrl: env.PUBLIC_WS_URL ?? `ws://localhost:${wsPort}/`,
    jwksUrl: env.AUTH_JWKS_URL!,
    issuer: env.AUTH_ISSUER!,
    audience: env.AUTH_AUDIENCE!,
    redisUrl: env.REDIS_URL!,
    failureMode: env.REVOCATION_FAILURE_MODE === "open" ? "open" : "closed",
    jwksMaxAgeMs: env.AUTH_JWKS_MAX_AGE_MS ? Number(env.AUTH_JWKS_MAX_AGE_MS) : undefined,
    jwksCooldownMs: env.AUTH_JWKS_COOLDOWN_MS ? Number(env.AUTH_JWKS_COOLDOWN_MS) : undefined,
    accessTokenTtl: env.ACCESS_TOKEN_TTL ? Number(env.ACCESS_TOKEN_TTL) : undefined,
  };
}
