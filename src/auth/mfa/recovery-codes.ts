import { createHash, randomBytes } from "node:crypto";

/**
 * Recovery codes: the way back in when the authenticator is lost. Each is 80 random bits, shown
 * once as four groups of four characters from Crockford's base32 (no I, L, O, U: nothing to misread),
 * stored only as a hash, and used at most once.
 */
export const RECOVERY_CODE_COUNT = 10;
const CODE_BYTES = 10;
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const GROUP = 4;

export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
}

function newRecoveryCode(): string {
  const bytes = randomBytes(CODE_BYTES);
  let bits = 0n;
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
  let chars = "";
  for (let i = 0; i < (CODE_BYTES * 8) / 5; i++) {
    chars = ALPHABET[Number(bits & 31n)]! + chars;
    bits >>= 5n;
  }
  return chars.match(new RegExp(`.{${GROUP}}`, "g"))!.join("-");
}

/**
 * A typed code in its canonical form: case, spaces and dashes ignored, and the letters Crockford
 * base32 leaves out read as the digits they look like. Null when it cannot be a recovery code.
 */
export function normalizeRecoveryCode(input: string): string | null {
  const code = input.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  return code.length === (CODE_BYTES * 8) / 5 && [...code].every((c) => ALPHABET.includes(c)) ? code : null;
}

/**
 * What the store keeps. 80 random bits need no slow hash: nobody can try 2^80 guesses against a
 * leaked hash. The user id is mixed in, so equal hashes say nothing across users.
 */
export function hashRecoveryCode(userId: string, canonical: string): string {
  return createHash("sha256").update(`recovery-code\n${userId}\n${canonical}`).digest("base64url");
}
