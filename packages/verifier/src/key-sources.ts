import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";

export const ALGORITHMS = ["ES256", "RS256"] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** A public key, built once, pinned to the algorithm the key set gives it. */
export interface VerificationKey {
  readonly kid: string;
  readonly algorithm: Algorithm;
  readonly key: KeyObject;
}

export interface JsonWebKeySet {
  readonly keys: readonly JsonWebKey[];
}

/** Where a verifier finds the key a token's kid names. "unavailable": no key set could be had at all. */
export interface KeySource {
  find(kid: string): Promise<VerificationKey | undefined | "unavailable">;
}

export interface RemoteKeysOptions {
  /** The auth API's `/.well-known/jwks.json`. */
  readonly url: string;
  /** How long a fetched set is used before it is fetched again. Default 300 000 (the API's max-age). */
  readonly maxAgeMs?: number;
  /**
   * At most one fetch per this many ms, whatever asks for it: an unknown kid, a stale set, a failed
   * fetch. A flood of tokens with made-up kids costs the auth API one request per cooldown. Default 10 000.
   */
  readonly cooldownMs?: number;
  /** Bound on one fetch. Default 5 000. */
  readonly timeoutMs?: number;
  /** Epoch ms; for tests. */
  readonly now?: () => number;
}

/** Larger key-set documents are refused: a real one holds a handful of keys. */
const MAX_JWKS_BYTES = 64 * 1024;

/**
 * Keys given directly: a JWKS of public keys (the auth API's document, saved). Anything that is not
 * an EC P-256 key for ES256 or an RSA key for RS256, with a kid, is left out, and so is any private
 * or symmetric key: a verifier must never hold one.
 */
export function keysFromJwks(jwks: JsonWebKeySet): Map<string, VerificationKey> {
  const found = new Map<string, VerificationKey>();
  for (const jwk of Array.isArray(jwks?.keys) ? jwks.keys : []) {
    const key = verificationKey(jwk);
    if (key && !found.has(key.kid)) found.set(key.kid, key);
  }
  return found;
}

function verificationKey(jwk: JsonWebKey & { kid?: unknown; alg?: unknown; use?: unknown }): VerificationKey | null {
  if (typeof jwk?.kid !== "string" || !(ALGORITHMS as readonly unknown[]).includes(jwk.alg)) return null;
  if (jwk.use !== undefined && jwk.use !== "sig") return null;
  if ("d" in jwk || "k" in jwk) return null;
  const algorithm = jwk.alg as Algorithm;
  if (algorithm === "ES256" ? jwk.kty !== "EC" || jwk.crv !== "P-256" : jwk.kty !== "RSA") return null;
  try {
    return { kid: jwk.kid, algorithm, key: createPublicKey({ key: jwk, format: "jwk" }) };
  } catch {
    return null;
  }
}

export class StaticKeys implements KeySource {
  private readonly keys: Map<string, VerificationKey>;

  constructor(jwks: JsonWebKeySet) {
    this.keys = keysFromJwks(jwks);
  }

  async find(kid: string): Promise<VerificationKey | undefined> {
    return this.keys.get(kid);
  }
}

/** The auth API's JWKS, fetched, cached, and fetched again on an unknown kid (within the cooldown). */
export class RemoteKeys implements KeySource {
  private keys: Map<string, VerificationKey> | null = null;
  private fetchedAt = 0;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | null = null;
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  /** Fetches made so far, successful or not; for metrics and tests. */
  fetches = 0;

  constructor(private readonly options: RemoteKeysOptions) {
    this.maxAgeMs = options.maxAgeMs ?? 300_000;
    this.cooldownMs = options.cooldownMs ?? 10_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  async find(kid: string): Promise<VerificationKey | undefined | "unavailable"> {
    if (this.keys === null || this.now() - this.fetchedAt > this.maxAgeMs) await this.refetch();
    if (this.keys !== null && !this.keys.has(kid)) await this.refetch();
    if (this.keys === null) return "unavailable";
    return this.keys.get(kid);
  }

  /** Fetches now unless a fetch ran within the cooldown; concurrent callers share one fetch. */
  private async refetch(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.now() - this.attemptedAt < this.cooldownMs) return;
    this.attemptedAt = this.now();
    this.inFlight = this.load().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** A failed fetch keeps the set already held: the auth API being down does not lose known keys. */
  private async load(): Promise<void> {
    this.fetches++;
    try {
      const response = await fetch(this.options.url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: "application/json" } });
      const text = await response.text();
      if (!response.ok || text.length > MAX_JWKS_BYTES) return;
      this.keys = keysFromJwks(JSON.parse(text) as JsonWebKeySet);
      this.fetchedAt = this.now();
    } catch {
      // unreachable, timed out or not JSON: keep what we have
    }
  }
}
