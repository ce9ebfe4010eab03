import { createHash } from "node:crypto";
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, importJWK, jwtVerify, type JWK, type KeyLike, type ProtectedHeaderParameters } from "jose";

/**
 * DPoP (RFC 9449): the checks on a proof, shared by the auth API and every verifier so both refuse
 * exactly the same proofs. The JWS and the thumbprint are jose's (panva); this file only decides
 * what a proof must say. The replay check is not here: it rides in the same Redis script as the
 * revocation read (access-state.ts), so a bound request stays one Redis command.
 */

/** Asymmetric only: `none` and the HMAC family can prove nothing about a key the client holds. */
export const DPOP_ALGORITHMS = ["ES256", "RS256", "EdDSA"] as const;

export const DPOP_PROOF_TYPE = "dpop+jwt";

/** DPOP_MAX_SKEW_SECONDS when not given: a proof's `iat` may be this far from the server's clock, either way. */
export const DEFAULT_DPOP_MAX_SKEW_SECONDS = 60;

/** The `Authorization: DPoP <token>` form; the token is group 1. */
export const DPOP_AUTHORIZATION = /^DPoP +(\S+) *$/i;

/** An RSA key of 4096 bits makes a proof of about 1.5 kB; anything much longer is refused unparsed. */
const MAX_PROOF_LENGTH = 4096;

/** Members only a private (or symmetric) JWK has: a proof that carries one has leaked its key. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

/** RFC 9449 §7.1: what a 401 about a proof says, with the algorithms a client may use. */
export const DPOP_CHALLENGE = `DPoP error="invalid_dpop_proof", algs="${DPOP_ALGORITHMS.join(" ")}"`;

/** Which check a proof failed: the client sees it (extensions.check) and the message names it. */
export type DpopCheck = "missing" | "malformed" | "typ" | "alg" | "jwk" | "signature" | "htm" | "htu" | "iat" | "jti" | "ath" | "jkt" | "nonce";

export const DPOP_CHECK_MESSAGES: Record<DpopCheck, string> = {
  missing: "This token is DPoP-bound: the request needs a DPoP proof header signed by its key",
  malformed: "The DPoP proof is not a compact JWS",
  typ: 'The DPoP proof\'s typ must be "dpop+jwt"',
  alg: `The DPoP proof's alg must be one of ${DPOP_ALGORITHMS.join(", ")}`,
  jwk: "The DPoP proof's header must carry the public key as jwk, with no private members",
  signature: "The DPoP proof's signature does not verify with its jwk",
  htm: "The DPoP proof's htm is not this request's method",
  htu: "The DPoP proof's htu is not this request's URL",
  iat: "The DPoP proof's iat is too far from the server's clock (DPOP_MAX_SKEW_SECONDS)",
  jti: "The DPoP proof must carry a jti of at most 128 characters",
  ath: "The DPoP proof's ath is not the SHA-256 of this access token",
  jkt: "The DPoP proof is signed by another key than the one this token is bound to",
  nonce: "The DPoP proof must carry the server's current nonce: sign it again with the DPoP-Nonce header of this answer",
};

/** RFC 9449 §8: the answer to a proof without the current server nonce (DPOP_NONCE=on), beside a DPoP-Nonce header. */
export const USE_DPOP_NONCE_CHALLENGE = `DPoP error="use_dpop_nonce", algs="${DPOP_ALGORITHMS.join(" ")}"`;

/** The request a proof must be for: `htm`, and `htu` as the client saw it (scheme and host behind TRUST_PROXY). */
export interface DpopTarget {
  readonly method: string;
  readonly url: string;
}

export interface DpopCheckOptions {
  readonly maxSkewSeconds: number;
  /** Epoch ms. */
  readonly now: () => number;
  /** Where the keys of recent proofs are kept imported; without it, each proof's key is imported anew (jose's EmbeddedJWK). */
  readonly keys?: ProofKeys;
  /** Server nonces (RFC 9449 §8): whether the proof's `nonce` claim is a current one. Absent: not checked. */
  readonly acceptsNonce?: (nonce: unknown) => boolean;
}

/** Keys remembered by a ProofKeys; past this many it forgets them all and starts again. */
const KNOWN_KEYS = 256;

/**
 * The public keys of recent proofs, imported once. A client signs every request with the same key,
 * and importing it (WebCrypto) was 40% of a proof's check, about 100 µs. Whoever sends proofs
 * chooses these keys, so the memory is bounded; a key is only ever a public one (the jwk check
 * refuses private members first, and an imported key that is not public is refused).
 */
export class ProofKeys {
  private readonly known = new Map<string, Promise<KeyLike | Uint8Array>>();

  async find(jwk: JWK, alg: string): Promise<KeyLike> {
    const id = `${alg} ${JSON.stringify(jwk)}`;
    let key = this.known.get(id);
    if (key === undefined) {
      if (this.known.size >= KNOWN_KEYS) this.known.clear();
      key = importJWK({ ...jwk, ext: true }, alg);
      this.known.set(id, key);
      key.catch(() => this.known.delete(id));
    }
    const imported = await key;
    if (imported instanceof Uint8Array || imported.type !== "public") throw new Error("the proof's jwk is not a public key");
    return imported;
  }
}

/** A proof that passed every check but the replay check. */
export interface CheckedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: what `cnf.jkt` binds a token to. */
  readonly jkt: string;
  readonly jti: string;
  /** Epoch seconds. */
  readonly iat: number;
}

export type ProofOutcome = CheckedProof | { readonly fault: DpopCheck };

/** `htu` as compared: scheme, host and path; query and fragment never count (RFC 9449 §4.3). Null: not a URL. */
export function normalizeHtu(url: string): string | null {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return null;
  }
}

/** `ath`: the base64url SHA-256 of the access token, as a proof that uses one must carry it. */
export const accessTokenHash = (token: string) => createHash("sha256").update(token, "ascii").digest("base64url");

/**
 * Every check of RFC 9449 §4.3 but the replay check, in order: shape, typ, alg, jwk (public, no
 * private members), signature, htm, htu, iat within the skew, jti, and ath when `accessToken` is given.
 */
export async function checkDpopProof(proof: string, target: DpopTarget, accessToken: string | undefined, options: DpopCheckOptions): Promise<ProofOutcome> {
  if (proof.length > MAX_PROOF_LENGTH) return { fault: "malformed" };
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    return { fault: "malformed" };
  }
  if (header.typ !== DPOP_PROOF_TYPE) return { fault: "typ" };
  if (!(DPOP_ALGORITHMS as readonly unknown[]).includes(header.alg)) return { fault: "alg" };
  const jwk = header.jwk;
  if (typeof jwk !== "object" || jwk === null || PRIVATE_MEMBERS.some((member) => member in jwk)) return { fault: "jwk" };
  let payload: Record<string, unknown>;
  try {
    const keys = options.keys;
    const key = keys === undefined ? EmbeddedJWK : () => keys.find(jwk as JWK, header.alg!);
    ({ payload } = await jwtVerify(proof, key, { typ: DPOP_PROOF_TYPE, algorithms: [...DPOP_ALGORITHMS] }));
  } catch {
    return { fault: "signature" };
  }
  if (payload.htm !== target.method) return { fault: "htm" };
  const htu = typeof payload.htu === "string" ? normalizeHtu(payload.htu) : null;
  if (htu === null || htu !== normalizeHtu(target.url)) return { fault: "htu" };
  const { iat, jti } = payload;
  if (typeof iat !== "number" || !Number.isFinite(iat) || Math.abs(options.now() / 1000 - iat) > options.maxSkewSeconds) return { fault: "iat" };
  if (typeof jti !== "string" || jti.length === 0 || jti.length > 128) return { fault: "jti" };
  if (accessToken !== undefined && payload.ath !== accessTokenHash(accessToken)) return { fault: "ath" };
  if (options.acceptsNonce !== undefined && !options.acceptsNonce(payload.nonce)) return { fault: "nonce" };
  return { jkt: await calculateJwkThumbprint(jwk as JWK, "sha256"), jti, iat };
}

/**
 * How long a proof's jti is remembered, in seconds: a proof is accepted while the clock is within
 * the skew of its `iat`, on either side, so twice the skew covers its whole life.
 */
export const replayWindowSeconds = (maxSkewSeconds: number) => 2 * maxSkewSeconds;
