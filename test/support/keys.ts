import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePrivateJwk, type AsymmetricAlgorithm, type PrivateJwk } from "../../src/auth/tokens/signing-keys";

export const newKey = (algorithm: AsymmetricAlgorithm = "ES256"): PrivateJwk => generatePrivateJwk(algorithm);

/** Writes a JWT_KEYS_FILE holding `keys` to a fresh temporary file and returns its path. */
export function keysFile(keys: readonly object[]): string {
  const path = join(mkdtempSync(join(tmpdir(), "auth-api-keys-")), "jwks.json");
  writeFileSync(path, JSON.stringify({ keys }));
  return path;
}

/** The environment for an API signing with `signing`, with every key of `keys` in its set. */
export function asymmetricEnv(keys: readonly PrivateJwk[], signing: PrivateJwk = keys[0]!): Record<string, string> {
  return { JWT_ALGORITHM: signing.alg, JWT_KEYS_FILE: keysFile(keys), JWT_SIGNING_KID: signing.kid, JWT_SECRET: "" };
}

export const headerOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as Record<string, unknown>;
export const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
