import { createHmac } from "node:crypto";

/**
 * RFC 6238 TOTP written out from the RFCs with node:crypto alone, so the tests check the server's
 * library against an independent implementation: HMAC-SHA-1 over the big-endian step counter,
 * RFC 4226 §5.3's dynamic truncation, 6 digits, 30-second steps.
 */
export const STEP_MS = 30_000;

export const stepAt = (ms: number) => Math.floor(ms / STEP_MS);

export function totpCode(base32Secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(base32Secret)).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(binary).padStart(6, "0");
}

/** RFC 4648 base32, padding optional. */
export function base32Decode(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of text.replace(/=+$/, "").toUpperCase()) {
    const value = alphabet.indexOf(char);
    if (value < 0) throw new Error(`not base32: ${char}`);
    bits += value.toString(2).padStart(5, "0");
  }
  const bytes = bits.match(/.{8}/g) ?? [];
  return Buffer.from(bytes.map((byte) => parseInt(byte, 2)));
}

/** A clock the test moves: starts in the middle of a TOTP step, so a code's step never turns mid-request. */
export function testClock(): { now(): number; advanceSteps(steps: number): void; step(): number } {
  let now = stepAt(Date.now()) * STEP_MS + STEP_MS / 2;
  return {
    now: () => now,
    advanceSteps(steps: number) {
      now += steps * STEP_MS;
    },
    step: () => stepAt(now),
  };
}
