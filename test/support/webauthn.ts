import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";

/**
 * A software authenticator for HTTP tests: it answers registration options with a "none"
 * attestation of a fresh P-256 key, as a platform authenticator with user verification would.
 * Written out from the WebAuthn spec with node:crypto and a few lines of CBOR, so the tests check
 * the server's library against an independent implementation (the browser's own ceremonies run in
 * test/e2e/passkeys.test.ts).
 */
export interface CreationOptions {
  readonly challenge: string;
  readonly rp: { readonly id?: string };
}

/** The JSON of a PublicKeyCredential from navigator.credentials.create(), as credential.toJSON() gives it. */
export function attest(options: CreationOptions, origin: string): Record<string, unknown> {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const coseKey = new Map<number, unknown>([
    [1, 2], // kty: EC2
    [3, -7], // alg: ES256
    [-1, 1], // crv: P-256
    [-2, Buffer.from(jwk.x!, "base64url")],
    [-3, Buffer.from(jwk.y!, "base64url")],
  ]);
  const credentialId = randomBytes(16);
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(credentialId.length);
  const authData = Buffer.concat([
    createHash("sha256").update(options.rp.id ?? "localhost").digest(),
    // User present, user verified, attested credential data included.
    Buffer.from([0x01 | 0x04 | 0x40]),
    Buffer.alloc(4),
    Buffer.alloc(16),
    idLength,
    credentialId,
    cbor(coseKey),
  ]);
  const attestationObject = cbor(new Map<string, unknown>([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
  const clientData = { type: "webauthn.create", challenge: options.challenge, origin, crossOrigin: false };
  const id = credentialId.toString("base64url");
  return {
    id,
    rawId: id,
    type: "public-key",
    response: {
      clientDataJSON: Buffer.from(JSON.stringify(clientData)).toString("base64url"),
      attestationObject: attestationObject.toString("base64url"),
      transports: ["internal"],
    },
    authenticatorAttachment: "platform",
    clientExtensionResults: {},
  };
}

/** RFC 8949, only what an attestation needs: integers, byte and text strings, maps. */
function cbor(value: unknown): Buffer {
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8");
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Map) return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
  throw new Error(`cannot encode ${typeof value} as CBOR here`);
}

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
  const bytes = Buffer.alloc(3);
  bytes[0] = (major << 5) | 25;
  bytes.writeUInt16BE(length, 1);
  return bytes;
}
