import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, compactVerify, type JWK } from "jose";

/**
 * DPoP (RFC 9449): the checks on a proof, shared by the auth API and every verifier so both refuse
 * exactly the same proofs. The JWS itself is jose's (panva): `compactVerify`, with the one
 * algorithm the header named among the three pinned ones, and the RFC 7638 thumbprint. A proof is
 * checked on every bound request, so what depends only on its header (the public key Node imports
 * from its JWK, the thumbprint) is worked out once per header (ProofKeys) and handed to jose as a
 * KeyObject: importing it again each time cost more than the signature. The replay check is not
 * here: it rides in the same Redis script as the revocation read (access-state.ts), so a bound
 * request stays one Redis command.
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
  /** Where the checked headers (keys and thumbprints) of recent proofs are kept; without it, each proof's header is checked anew. */
  readonly keys?: ProofKeys;
  /** Server nonces (RFC 9449 §8): whether the proof's `nonce` claim is a current one. Absent: not checked. */
  readonly acceptsNonce?: (nonce: unknown) => boolean;
}

/** Headers remembered by a ProofKeys; past this many it forgets them all and starts again. */
const KNOWN_HEADERS = 256;

type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** A proof header that passed its checks: the key to verify with, and the thumbprint tokens bind to. */
interface ProofHeader {
  readonly alg: DpopAlgorithm;
  readonly key: KeyObject;
  readonly jkt: string;
}

/** The key type each algorithm needs. */
const ALGORITHM_KEYS: Record<DpopAlgorithm, { readonly type: string }> = {
  ES256: { type: "ec" },
  RS256: { type: "rsa" },
  EdDSA: { type: "ed25519" },
};

/** The shortest RSA key accepted, as jose (and RFC 7518 §3.3) require. */
const MIN_RSA_BITS = 2048;

/**
 * The headers of recent proofs, checked and their keys imported once. A client signs every
 * request with the same header (typ, alg, jwk), and importing its key and taking its thumbprint
 * cost more than verifying the signature (about 100 µs of a 200 µs check). The header's encoded
 * text is the lookup key: the same bytes always pass or fail the same way. Whoever sends proofs
 * chooses these headers, so the memory is bounded; a key is only ever a public one (the jwk check
 * refuses private members first, and only a public key is kept).
 */
export class ProofKeys {
  private readonly known = new Map<string, Promise<ProofHeader | DpopCheck>>();

  find(encodedHeader: string): Promise<ProofHeader | DpopCheck> {
    let header = this.known.get(encodedHeader);
    if (header === undefined) {
      if (this.known.size >= KNOWN_HEADERS) this.known.clear();
      header = checkHeader(encodedHeader);
      this.known.set(encodedHeader, header);
    }
    return header;
  }
}

/** typ, alg, no `crit` (no extension is understood), and a public jwk of the alg's type: every check of a proof that depends on its header alone. */
async function checkHeader(encoded: string): Promise<ProofHeader | DpopCheck> {
  const header = decodeJson(encoded);
  if (header === null) return "malformed";
  if (header.typ !== DPOP_PROOF_TYPE) return "typ";
  if (!(DPOP_ALGORITHMS as readonly unknown[]).includes(header.alg)) return "alg";
  const alg = header.alg as DpopAlgorithm;
  // A JWS extension we do not know of must be refused, never ignored (RFC 7515 §4.1.11).
  if ("crit" in header) return "malformed";
  const jwk = header.jwk;
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk) || PRIVATE_MEMBERS.some((member) => member in jwk)) return "jwk";
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
  } catch {
    return "jwk";
  }
  const details = key.asymmetricKeyDetails;
  if (key.type !== "public" || key.asymmetricKeyType !== ALGORITHM_KEYS[alg].type) return "jwk";
  if (alg === "ES256" && details?.namedCurve !== "prime256v1") return "jwk";
  if (alg === "RS256" && (details?.modulusLength ?? 0) < MIN_RSA_BITS) return "jwk";
  let jkt: string;
  try {
    jkt = await calculateJwkThumbprint(jwk as JWK, "sha256");
  } catch {
    return "jwk";
  }
  return { alg, key, jkt };
}

/** A base64url segment (or its decoded bytes) holding a JSON object; null for anything else. */
function decodeJson(segment: string | Uint8Array): Record<string, unknown> | null {
  try {
    const bytes = typeof segment === "string" ? Buffer.from(segment, "base64url") : Buffer.from(segment.buffer, segment.byteOffset, segment.byteLength);
    const value: unknown = JSON.parse(bytes.toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const BASE64URL = /^[\w-]*$/;

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
 * Every check of RFC 9449 §4.3 but the replay check, in order: shape, typ, alg, jwk (public, of
 * the alg's type, no private members), signature, htm, htu, iat within the skew, exp and nbf when
 * present, jti, ath when `accessToken` is given, and the nonce when asked for.
 */
export async function checkDpopProof(proof: string, target: DpopTarget, accessToken: string | undefined, options: DpopCheckOptions): Promise<ProofOutcome> {
  if (proof.length > MAX_PROOF_LENGTH) return { fault: "malformed" };
  const parts = proof.split(".");
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) return { fault: "malformed" };
  const header = await (options.keys ?? new ProofKeys()).find(parts[0]!);
  if (typeof header === "string") return { fault: header };
  let verified: Uint8Array;
  try {
    ({ payload: verified } = await compactVerify(proof, header.key, { algorithms: [header.alg] }));
  } catch {
    return { fault: "signature" };
  }
  const payload = decodeJson(verified);
  if (payload === null) return { fault: "malformed" };
  if (payload.htm !== target.method) return { fault: "htm" };
  // The same text as the request's URL needs no second parse (a client sends it so nearly always).
  const expected = normalizeHtu(target.url);
  const htu = payload.htu === target.url ? expected : typeof payload.htu === "string" ? normalizeHtu(payload.htu) : null;
  if (expected === null || htu !== expected) return { fault: "htu" };
  const { iat, jti, exp, nbf } = payload;
  const now = options.now() / 1000;
  if (typeof iat !== "number" || !Number.isFinite(iat) || Math.abs(now - iat) > options.maxSkewSeconds) return { fault: "iat" };
  // Not DPoP's claims, but a JWT that says it has expired, or is not valid yet, is not accepted (as jose's jwtVerify did).
  if (exp !== undefined && (typeof exp !== "number" || exp <= now)) return { fault: "iat" };
  if (nbf !== undefined && (typeof nbf !== "number" || nbf > now)) return { fault: "iat" };
  if (typeof jti !== "string" || jti.length === 0 || jti.length > 128) return { fault: "jti" };
  if (accessToken !== undefined && payload.ath !== accessTokenHash(accessToken)) return { fault: "ath" };
  if (options.acceptsNonce !== undefined && !options.acceptsNonce(payload.nonce)) return { fault: "nonce" };
  return { jkt: header.jkt, jti, iat };
}

/**
 * How long a proof's jti is remembered, in seconds: a proof is accepted while the clock is within
 * the skew of its `iat`, on either side, so twice the skew covers its whole life.
 */
export const replayWindowSeconds = (maxSkewSeconds: number) => 2 * maxSkewSeconds;
