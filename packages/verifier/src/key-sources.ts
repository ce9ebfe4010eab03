import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";

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
  /** The auth API's ACCESS_TOKEN_TTL, in seconds: verifiers bound a token's exp - iat by it. */
  readonly access_token_ttl?: number;
}

/**
 * A short name for a key set, from its kids: the auth API writes it to Redis (`keys.keySet()`) at
 * start, and a verifier whose own set has another refetches within a second or two.
 */
export function keySetVersion(kids: Iterable<string>): string {
  return createHash("sha256").update([...kids].sort().join("\n")).digest("base64url").slice(0, 22);
}

/** Where a verifier finds the key a token's kid names. "unavailable": no key set could be had at all. */
export interface KeySource {
  find(kid: string): Promise<VerificationKey | undefined | "unavailable">;
}

export interface RemoteKeysOptions {
  /** The auth API's `/.well-known/jwks.json`. */
  readonly url: string;
  /**
   * How long a fetched set is used before it is fetched again, in the background: requests keep
   * being verified with the set held meanwhile. Default 300 000 (the API's max-age).
   */
  readonly maxAgeMs?: number;
  /**
   * At most one fetch per this many ms for an unknown kid, a stale set or a failed fetch. A flood
   * of tokens with made-up kids costs the auth API one request per cooldown. Default 10 000.
   * (An announced key-set change is fetched within a second, whatever the cooldown.)
   */
  readonly cooldownMs?: number;
  /** Bound on one fetch. Default 5 000. */
  readonly timeoutMs?: number;
  /** Told why a fetched set was not used (unreachable, too large, no usable key): the held set stays. */
  readonly onRefused?: (reason: string) => void;
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

/** An announced key-set change is fetched at most this often. */
const ANNOUNCED_FETCH_EVERY_MS = 1000;

/**
 * The auth API's JWKS, fetched and cached. Once a set is held, a stale set or an announced change
 * starts a fetch in the background, and requests are verified with the held set meanwhile
 * (stale-while-revalidate); only a verifier that has never had a set, or a token naming a kid not
 * in it (once per cooldown), waits for a fetch. A fetched set with no usable key never replaces a usable one.
 */
export class RemoteKeys implements KeySource {
  private keys: Map<string, VerificationKey> | null = null;
  private fetchedAt = 0;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private announcedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | null = null;
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  /** Fetches made so far, successful or not; for metrics and tests. */
  fetches = 0;
  /** keySetVersion of the held set; null before the first. */
  version: string | null = null;
  /** The ACCESS_TOKEN_TTL the auth API published with the held set, if it did. */
  accessTokenTtl: number | undefined;

  constructor(private readonly options: RemoteKeysOptions) {
    this.maxAgeMs = options.maxAgeMs ?? 300_000;
    this.cooldownMs = options.cooldownMs ?? 10_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  async find(kid: string): Promise<VerificationKey | undefined | "unavailable"> {
    if (this.keys === null) {
      await this.refetch();
      const fetched = this.keys as Map<string, VerificationKey> | null;
      return fetched === null ? "unavailable" : fetched.get(kid);
    }
    // An unknown kid waits for the fetch it starts (once per cooldown): a newly published key works at once.
    if (!this.keys.has(kid)) await this.refetch();
    else if (this.now() - this.fetchedAt > this.maxAgeMs) void this.refetch();
    return this.keys.get(kid);
  }

  /** The auth API says its set is `version` now: fetch it unless held, at most once a second. */
  announced(version: string): void {
    if (version === this.version || this.now() - this.announcedAt < ANNOUNCED_FETCH_EVERY_MS) return;
    this.announcedAt = this.now();
    void this.fetch();
  }

  /** Resolves once no fetch is running; for tests. */
  async settled(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  /** Fetches now unless a fetch ran within the cooldown; concurrent callers share one fetch. */
  private refetch(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.now() - this.attemptedAt < this.cooldownMs) return Promise.resolve();
    return this.fetch();
  }

  private fetch(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.attemptedAt = this.now();
    this.inFlight = this.load().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** A failed fetch keeps the set already held: the auth API being down does not lose known keys. */
  private async load(): Promise<void> {
    this.fetches++;
    let document: JsonWebKeySet;
    try {
      const response = await fetch(this.options.url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: "application/json" } });
      if (!response.ok) {
        await response.body?.cancel();
        return this.refused(`the JWKS endpoint answered ${response.status}`);
      }
      const text = await readAtMost(response, MAX_JWKS_BYTES);
      if (text === null) return this.refused(`the JWKS document is larger than ${MAX_JWKS_BYTES} bytes`);
      document = JSON.parse(text) as JsonWebKeySet;
    } catch (error) {
      return this.refused(`the JWKS could not be fetched: ${error instanceof Error ? error.message : String(error)}`);
    }
    const found = keysFromJwks(document);
    if (found.size === 0) return this.refused("the JWKS holds no usable key");
    this.keys = found;
    this.fetchedAt = this.now();
    this.version = keySetVersion(found.keys());
    const ttl = document?.access_token_ttl;
    this.accessTokenTtl = typeof ttl === "number" && Number.isInteger(ttl) && ttl > 0 ? ttl : undefined;
  }

  private refused(reason: string): void {
    this.options.onRefused?.(this.keys === null ? reason : `${reason}; kept the key set held`);
  }
}

/** The body as text, or null past `limit` bytes: reading stops there, so a huge answer costs no memory. */
async function readAtMost(response: Response, limit: number): Promise<string | null> {
  if (Number(response.headers.get("content-length") ?? 0) > limit) {
    await response.body?.cancel();
    return null;
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
