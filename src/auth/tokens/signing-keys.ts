import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from "node:crypto";
import type { JsonWebKeySet } from "@revocable-auth/verifier";

export const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
export const ASYMMETRIC_ALGORITHMS = ["ES256", "RS256"] as const;
export type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number];
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];
export type Algorithm = HmacAlgorithm | AsymmetricAlgorithm;

export const isAsymmetric = (algorithm: Algorithm): algorithm is AsymmetricAlgorithm =>
  (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm);

/** A private key of the set, as written in JWT_KEYS_FILE (and printed by `npm run keys -- generate`). */
export interface PrivateJwk extends JsonWebKey {
  readonly kid: string;
  readonly alg: AsymmetricAlgorithm;
}

/** What the configuration hands over: key material only, checked by parseKeySet / readSecrets. */
export type KeyMaterial =
  | { readonly algorithm: HmacAlgorithm; readonly secret: string; readonly previousSecrets: readonly string[] }
  | { readonly algorithm: AsymmetricAlgorithm; readonly keys: readonly PrivateJwk[]; readonly signingKid: string };

/** One key, built once, pinned to its algorithm. */
export interface SigningKey {
  readonly kid: string;
  readonly algorithm: Algorithm;
  readonly key: KeyObject;
}

const MAX_KID_LENGTH = 128;
/** RFC 7518 §3.3: RSA keys of 2048 bits or more. */
const MIN_RSA_BITS = 2048;
/** Refresh tokens under an asymmetric algorithm are HMAC-signed with a key derived from the private key (see KeySet). */
const REFRESH_ALGORITHM: HmacAlgorithm = "HS256";
const REFRESH_KEY_INFO = "revocable-auth-api refresh token signing key";

/**
 * The keys this API signs and verifies with. Access tokens are signed with the signing key and
 * verified with whichever key of the set their `kid` names; the token's own `alg` is never read:
 * each key carries its algorithm. Refresh tokens are only ever read by this API, so they are
 * always HMAC-signed: with the secret under an HMAC algorithm, and under an asymmetric one with
 * a key derived from each private key (same kid). HMAC signatures are deterministic, which
 * re-issuing a byte-identical refresh token needs; ES256 signatures are not.
 */
export class KeySet {
  private readonly ring: KeyRing;

  constructor(material: KeyMaterial) {
    this.ring = "keys" in material ? asymmetricRing(material) : hmacRing(material);
  }

  /** Signs access tokens. */
  get accessSigner(): SigningKey {
    return this.ring.accessSigner;
  }

  /** Signs refresh tokens. */
  get refreshSigner(): SigningKey {
    return this.ring.refreshSigner;
  }

  /**
   * The key a presented access token names. An unknown kid finds nothing, and the token is
   * invalid. Under HMAC a token without a kid predates kids: only JWT_SECRET may verify it.
   */
  accessKey(kid: string | undefined): SigningKey | undefined {
    const name = kid ?? this.ring.kidless;
    return name === undefined ? undefined : this.ring.access.get(name);
  }

  refreshKey(kid: string | undefined): SigningKey | undefined {
    const name = kid ?? this.ring.kidless;
    return name === undefined ? undefined : this.ring.refresh.get(name);
  }

  /** The JWKS document: the public half of every key; null under an HMAC algorithm, whose keys are secret. */
  jwks(): JsonWebKeySet | null {
    return this.ring.publicKeys ? { keys: this.ring.publicKeys } : null;
  }
}

interface KeyRing {
  /** Verify access tokens, by kid: public keys, or the secrets under HMAC. */
  readonly access: ReadonlyMap<string, SigningKey>;
  readonly refresh: ReadonlyMap<string, SigningKey>;
  readonly accessSigner: SigningKey;
  readonly refreshSigner: SigningKey;
  /** The kid a token without one is verified with: JWT_SECRET's under HMAC; none under ES256/RS256, whose tokens always had one. */
  readonly kidless: string | undefined;
  readonly publicKeys: JsonWebKey[] | null;
}

function asymmetricRing({ keys, signingKid }: Extract<KeyMaterial, { keys: unknown }>): KeyRing {
  const built = keys.map((jwk) => {
    const privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: "jwk" });
    return { jwk, privateKey, publicKey: createPublicKey(privateKey) };
  });
  const signer = built.find(({ jwk }) => jwk.kid === signingKid)!;
  const refreshKeys = built.map(({ jwk, privateKey }) => ({ kid: jwk.kid, algorithm: REFRESH_ALGORITHM, key: refreshKeyOf(privateKey) }));
  return {
    access: new Map(built.map(({ jwk, publicKey }) => [jwk.kid, { kid: jwk.kid, algorithm: jwk.alg, key: publicKey }])),
    refresh: new Map(refreshKeys.map((key) => [key.kid, key])),
    accessSigner: { kid: signingKid, algorithm: signer.jwk.alg, key: signer.privateKey },
    refreshSigner: refreshKeys.find((key) => key.kid === signingKid)!,
    kidless: undefined,
    publicKeys: built.map(({ jwk, publicKey }) => ({ ...publicKey.export({ format: "jwk" }), kid: jwk.kid, alg: jwk.alg, use: "sig" })),
  };
}

function hmacRing({ secret, previousSecrets, algorithm }: Extract<KeyMaterial, { secret: unknown }>): KeyRing {
  const secrets = [secret, ...previousSecrets].map((value) => ({ kid: secretKid(value), algorithm, key: createSecretKey(Buffer.from(value, "utf8")) }));
  const byKid = new Map(secrets.map((entry) => [entry.kid, entry]));
  return { access: byKid, refresh: byKid, accessSigner: secrets[0]!, refreshSigner: secrets[0]!, kidless: secrets[0]!.kid, publicKeys: null };
}

function refreshKeyOf(privateKey: KeyObject): KeyObject {
  const secret = privateKey.export({ format: "der", type: "pkcs8" });
  return createSecretKey(Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), REFRESH_KEY_INFO, 32)));
}

/** A public name for a secret: a truncated hash, which tells nothing a token's own HMAC does not. */
function secretKid(secret: string): string {
  return `hs-${createHash("sha256").update(`kid:${secret}`).digest("base64url").slice(0, 16)}`;
}

/** A fresh private JWK for `algorithm`, with a kid that sorts by creation date. */
export function generatePrivateJwk(algorithm: AsymmetricAlgorithm, now = new Date()): PrivateJwk {
  const { privateKey } =
    algorithm === "ES256"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : generateKeyPairSync("rsa", { modulusLength: MIN_RSA_BITS });
  const kid = `${now.toISOString().slice(0, 10)}-${randomBytes(6).toString("base64url")}`;
  return { ...privateKey.export({ format: "jwk" }), kid, alg: algorithm, use: "sig" };
}

/**
 * Checks a JWKS of private keys (JWT_KEYS_FILE's content) for `algorithm`: every key has a unique
 * kid, the configured alg, and is a usable private key of the matching type. Problems are
 * returned, each naming `source`, so configuration can report them all.
 */
export function parseKeySet(text: string, algorithm: AsymmetricAlgorithm, source: string): { keys: PrivateJwk[]; problems: string[] } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { keys: [], problems: [`${source} is not valid JSON`] };
  }
  const entries = (document as { keys?: unknown })?.keys;
  if (!Array.isArray(entries) || entries.length === 0) {
    return { keys: [], problems: [`${source} must be a JSON Web Key Set: {"keys": [ …private keys… ]}`] };
  }
  const problems: string[] = [];
  const keys: PrivateJwk[] = [];
  entries.forEach((entry: unknown, index) => {
    const problem = keyProblem(entry, algorithm);
    if (problem) problems.push(`${source}: key ${index + 1} ${problem}`);
    else keys.push(entry as PrivateJwk);
  });
  const kids = keys.map((key) => key.kid);
  for (const kid of new Set(kids.filter((kid, i) => kids.indexOf(kid) !== i))) problems.push(`${source}: kid "${kid}" appears more than once`);
  return { keys, problems };
}

function keyProblem(entry: unknown, algorithm: AsymmetricAlgorithm): string | null {
  if (entry === null || typeof entry !== "object") return "is not a JSON object";
  const jwk = entry as Record<string, unknown>;
  if (typeof jwk.kid !== "string" || jwk.kid.length === 0 || jwk.kid.length > MAX_KID_LENGTH) {
    return `needs a "kid" of 1 to ${MAX_KID_LENGTH} characters`;
  }
  const named = `(kid "${jwk.kid}")`;
  if (jwk.alg !== algorithm) return `${named} has alg ${JSON.stringify(jwk.alg)}; JWT_ALGORITHM is ${algorithm} and every key must match it`;
  if (typeof jwk.d !== "string") return `${named} is not a private key (no "d"): the set holds private keys`;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk as JsonWebKey, format: "jwk" });
  } catch {
    // Node 24 refuses at import a "d" that does not belong to the public part; Node 20 imported it (the probe below).
    return isPublicJwk(jwk) ? `${named} has a private part that does not match its public part` : `${named} is not a valid private JWK`;
  }
  if (algorithm === "ES256" && key.asymmetricKeyDetails?.namedCurve !== "prime256v1") return `${named} must be an EC P-256 key for ES256`;
  if (algorithm === "RS256" && (key.asymmetricKeyType !== "rsa" || (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS)) {
    return `${named} must be an RSA key of at least ${MIN_RSA_BITS} bits for RS256`;
  }
  // Node does not check that "d" belongs to the public part; a mismatch would publish a key that verifies nothing.
  const probe = Buffer.from("revocable-auth-api key check");
  if (!verify("sha256", probe, createPublicKey(key), sign("sha256", probe, key))) return `${named} has a private part that does not match its public part`;
  return null;
}

/** Whether the key's public members alone make a valid public key. */
function isPublicJwk(jwk: Record<string, unknown>): boolean {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = jwk;
  try {
    createPublicKey({ key: publicPart as JsonWebKey, format: "jwk" });
    return true;
  } catch {
    return false;
  }
}
