import { createHash } from "node:crypto";
import { accessStateKeys, BOUND_ACCESS_STATE_SCRIPT, boundAccessStateKeys, parseAccessState } from "./access-state";
import { checkDpopProof, DEFAULT_DPOP_MAX_SKEW_SECONDS, DPOP_AUTHORIZATION, ProofKeys, replayWindowSeconds, type DpopTarget } from "./dpop";
import { keys as keyLayout } from "./keys";
import { meetsAal, needsSecondFactor, type Aal } from "./assurance";
import { RemoteKeys, StaticKeys, type JsonWebKeySet, type KeySource, type RemoteKeysOptions } from "./key-sources";
import { failures, identityOf, type Failure, type Identity, type Outcome, type VerifiedUser } from "./outcomes";
import { revocationCause, type RevocationCause } from "./revocation";
import { accessClaimsOf, TokenChecks, type AccessTokenClaims } from "./token-checks";
import { ACCESS_TOKEN_TYPE, BEARER_HEADER, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, JWT_SHAPE } from "./token-shape";

/**
 * The one Redis command a verifier sends. An ioredis `Redis` (single node or Sentinel) or `Cluster`
 * instance fits as it is; the four keys share one hash slot, so MGET works on a cluster too.
 */
export interface RevocationReader {
  mget(...keys: string[]): Promise<(string | null)[]>;
  /**
   * For DPoP-bound tokens only: the same read and the proof's replay record in one script (EVALSHA,
   * then EVAL once on NOSCRIPT). ioredis has both; a reader without them refuses bound tokens (503).
   */
  evalsha?(sha: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  eval?(script: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
}

/** What a request presents besides its Authorization header: the DPoP proof, and the request it must be for. */
export interface DpopRequest extends DpopTarget {
  /** The DPoP header. */
  readonly proof: string | undefined;
}

export interface VerifierOptions {
  /**
   * The auth API's JWT_ISSUER and JWT_AUDIENCE: required on every token. With the auth API's OAuth
   * provider on (OAUTH_PROVIDER=on), `[JWT_ISSUER, OAUTH_ISSUER]` also accepts the access tokens it
   * issues to other apps, under the same revocation rule (docs/oauth-provider.md).
   */
  readonly issuer: string | readonly string[];
  readonly audience: string;
  /** The auth API's JWKS: `{ url }` to fetch and cache it, or `{ jwks }` to give the public keys directly. */
  readonly keys: RemoteKeysOptions | { readonly jwks: JsonWebKeySet };
  /** The same Redis as the auth API; a verifier only ever reads from it (see the README's ACL). */
  readonly redis: RevocationReader;
  /** `closed` (default): refuse with STORE_UNAVAILABLE while Redis is down. `open`: accept on the signature alone. */
  readonly failureMode?: "closed" | "open";
  /** Bound on the Redis read before it counts as failed, in ms. Default 1000. */
  readonly storeTimeoutMs?: number;
  /**
   * The auth API's ACCESS_TOKEN_TTL, in seconds: an access token whose exp - iat is longer (plus a
   * minute's slack) is refused as the auth API refuses it, since it was not issued there. Without
   * it, the TTL the auth API publishes in its JWKS (`access_token_ttl`), else 24 hours.
   */
  readonly accessTokenTtl?: number;
  /**
   * The least assurance this service accepts on every token: "aal2" refuses aal1 tokens with 403,
   * MFA_REQUIRED when the user has a second factor to verify, MFA_ENROLLMENT_REQUIRED when not.
   * Default "aal1". Whatever it is, an aal1 token of a user who has a second factor is refused
   * (MFA_REQUIRED); `requireAal` asks for aal2 per operation instead.
   */
  readonly requiredAal?: Aal;
  /** Epoch ms; for tests. */
  readonly now?: () => number;
  /** Called each time a token is accepted on its signature alone (failureMode "open"). */
  readonly onFailOpen?: (identity: Identity) => void;
  /**
   * Called each time a token is refused as TOKEN_REVOKED, with why: for the service's log. A
   * `user_missing` for fresh tokens means this Redis is not the one the auth API writes to.
   */
  readonly onRevoked?: (cause: RevocationCause, token: { readonly userId: string; readonly sessionId: string }) => void;
  /** The auth API's DPOP_MAX_SKEW_SECONDS: how far a DPoP proof's `iat` may be from this clock. Default 60. */
  readonly dpopMaxSkewSeconds?: number;
}

export interface Verifier {
  /**
   * Verifies an access token and checks revocation in one MGET. A DPoP-bound token (`cnf.jkt`) also
   * needs `dpop`: a proof from its key for this request, whose jti is recorded in the same round trip
   * (one script), in the auth API's replay keys, so a proof used there or at another service is refused here.
   */
  verify(token: string, dpop?: DpopRequest & { readonly scheme: "Bearer" | "DPoP" }): Promise<Outcome>;
  /** The same for an Authorization header (`Bearer` or `DPoP`); no header is an anonymous request (identity null). */
  authenticate(authorization: string | undefined, dpop?: DpopRequest): Promise<Outcome | { readonly ok: true; readonly identity: null }>;
  /** The key source, for tests and metrics. */
  readonly keys: KeySource;
}

const BOUND_ACCESS_STATE_SHA = createHash("sha1").update(BOUND_ACCESS_STATE_SCRIPT).digest("hex");

/** A verifier that answers exactly as the auth API does, for tokens it issued. */
export function createVerifier(options: VerifierOptions): Verifier {
  const keys: KeySource = "jwks" in options.keys ? new StaticKeys(options.keys.jwks) : new RemoteKeys({ now: options.now, ...options.keys });
  const now = options.now ?? Date.now;
  const storeTimeoutMs = options.storeTimeoutMs ?? 1000;
  const maxLifetime = () => options.accessTokenTtl ?? (keys instanceof RemoteKeys ? keys.accessTokenTtl : undefined) ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
  let keySetReadAt = Number.NEGATIVE_INFINITY;
  const checks = new TokenChecks({ issuer: options.issuer, audience: options.audience, now });
  const dpopSkew = options.dpopMaxSkewSeconds ?? DEFAULT_DPOP_MAX_SKEW_SECONDS;
  const proofKeys = new ProofKeys();

  /**
   * At most once a second, beside the revocation MGET and not waited for: the auth API's key-set
   * version. A set changed there (a key removed) is fetched here within a second or two.
   */
  function watchKeySet(): void {
    if (!(keys instanceof RemoteKeys) || now() - keySetReadAt < 1000) return;
    keySetReadAt = now();
    options.redis.mget(keyLayout.keySet()).then(
      ([version]) => {
        if (version) keys.announced(version);
      },
      () => undefined,
    );
  }

  async function verify(token: string, dpop?: DpopRequest & { readonly scheme: "Bearer" | "DPoP" }): Promise<Outcome> {
    watchKeySet();
    const claims = await verifySignedClaims(token);
    if ("ok" in claims) return claims;
    let proofJti: string | undefined;
    if (claims.jkt !== undefined) {
      if (dpop?.scheme !== "DPoP" || dpop.proof === undefined) return failures.dpopProofRequired();
      const proof = await checkDpopProof(dpop.proof, dpop, token, { maxSkewSeconds: dpopSkew, now, keys: proofKeys });
      if ("fault" in proof) return failures.invalidDpopProof(proof.fault);
      if (proof.jkt !== claims.jkt) return failures.invalidDpopProof("jkt");
      proofJti = proof.jti;
    }
    let state;
    let replayed = false;
    try {
      if (proofJti === undefined) {
        state = parseAccessState<VerifiedUser, { createdAt: number }>(
          await withTimeout(options.redis.mget(...accessStateKeys(claims.sub, claims.sid, claims.jti)), storeTimeoutMs),
        );
      } else {
        const values = await withTimeout(boundRead(claims.sub, claims.sid, claims.jti, proofJti), storeTimeoutMs);
        state = parseAccessState<VerifiedUser, { createdAt: number }>(values.slice(0, 4) as (string | null)[]);
        replayed = values[4] !== 1;
      }
    } catch {
      if (options.failureMode !== "open") return failures.storeUnavailable();
      const accepted = identityOf(claims, claims.roles, claims.emailVerified, null);
      options.onFailOpen?.(accepted);
      return { ok: true, identity: accepted };
    }
    const cause = revocationCause(state);
    if (cause !== null) {
      options.onRevoked?.(cause, { userId: claims.sub, sessionId: claims.sid });
      return failures.revoked();
    }
    if (replayed) return failures.dpopProofReplayed();
    if (needsSecondFactor(state.user, claims.aal)) return failures.mfaRequired();
    if (!meetsAal(claims.aal, options.requiredAal ?? "aal1")) return failures.mfaEnrollmentRequired();
    return { ok: true, identity: identityOf(claims, state.user!.roles, state.user!.emailVerified === true, state.user) };
  }

  /** The auth API's own script and keys (access-state.ts): the four values, then 1 when the proof's jti was new. */
  async function boundRead(userId: string, sessionId: string, jti: string, proofJti: string): Promise<unknown[]> {
    const { redis } = options;
    if (!redis.evalsha || !redis.eval) throw new Error("this RevocationReader cannot run scripts: DPoP-bound tokens need evalsha and eval");
    const args = [...boundAccessStateKeys(userId, sessionId, jti, proofJti), replayWindowSeconds(dpopSkew)];
    try {
      return (await redis.evalsha(BOUND_ACCESS_STATE_SHA, 5, ...args)) as unknown[];
    } catch (error) {
      if (!String((error as Error)?.message).includes("NOSCRIPT")) throw error;
      return (await redis.eval(BOUND_ACCESS_STATE_SCRIPT, 5, ...args)) as unknown[];
    }
  }

  /** The auth API's checks (token-checks.ts), with the key fetched from its JWKS. */
  async function verifySignedClaims(token: string): Promise<AccessTokenClaims | Failure> {
    const kid = checks.kidOf(token);
    if (kid == null) return failures.malformed();
    const key = await keys.find(kid);
    if (key === "unavailable") return failures.keysUnavailable();
    const payload = checks.verify(token, kid, key, ACCESS_TOKEN_TYPE);
    if (payload === "wrongType") return failures.wrongType(ACCESS_TOKEN_TYPE);
    if (typeof payload === "string") return failures[payload]();
    return accessClaimsOf(payload, maxLifetime()) ?? failures.malformed();
  }

  return {
    keys,
    verify,
    async authenticate(authorization, dpop) {
      if (authorization === undefined) return { ok: true, identity: null };
      const bearer = BEARER_HEADER.exec(authorization);
      const match = bearer ?? DPOP_AUTHORIZATION.exec(authorization);
      if (!match) return failures.badHeader();
      if (!JWT_SHAPE.test(match[1]!)) return failures.notJwt();
      return verify(match[1]!, { method: dpop?.method ?? "", url: dpop?.url ?? "", proof: dpop?.proof, scheme: bearer ? "Bearer" : "DPoP" });
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
