import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/** AES-256-GCM keys are 32 bytes; MFA_ENCRYPTION_KEY gives one in base64. */
export const SECRET_BOX_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = "v1";

/**
 * Seals second-factor secrets before they reach the store, so a Redis dump (or a replica, or a
 * backup) alone yields none. AES-256-GCM with a fresh 96-bit IV per seal; the user id is the
 * associated data, so a sealed secret copied onto another user does not open. A sealed value names
 * its key by a short fingerprint, so previous keys can still open what they sealed while the
 * current key seals everything new (docs/mfa.md, rotating the key).
 */
export class SecretBox {
  private readonly current: { readonly id: string; readonly key: Buffer };
  private readonly byId: Map<string, Buffer>;

  /** `key` seals and opens; `previousKeys` only open. Each must be 32 bytes. */
  constructor(key: Buffer, previousKeys: readonly Buffer[] = []) {
    for (const k of [key, ...previousKeys]) {
      if (k.length !== SECRET_BOX_KEY_BYTES) throw new Error(`an encryption key must be ${SECRET_BOX_KEY_BYTES} bytes`);
    }
    this.current = { id: fingerprint(key), key };
    this.byId = new Map([...previousKeys, key].map((k) => [fingerprint(k), k]));
  }

  seal(plaintext: string, associatedData: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, "utf8"));
    const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return [VERSION, this.current.id, iv.toString("base64url"), sealed.toString("base64url")].join(".");
  }

  /** Null when the value is not one this box sealed for `associatedData`, under a key it still holds. */
  open(sealed: string, associatedData: string): string | null {
    const [version, keyId, iv, body] = sealed.split(".");
    const key = keyId === undefined ? undefined : this.byId.get(keyId);
    if (version !== VERSION || key === undefined || iv === undefined || body === undefined) return null;
    try {
      const bytes = Buffer.from(body, "base64url");
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(associatedData, "utf8"));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      return null;
    }
  }

  /** True when `sealed` was sealed under a previous key: worth sealing again under the current one. */
  isStale(sealed: string): boolean {
    return sealed.split(".")[1] !== this.current.id;
  }
}

/** Names a key without revealing it: 8 bytes of its SHA-256. */
function fingerprint(key: Buffer): string {
  return createHash("sha256").update("mfa-encryption-key\n").update(key).digest("base64url").slice(0, 11);
}
