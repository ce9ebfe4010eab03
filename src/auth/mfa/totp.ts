import { Secret, TOTP } from "otpauth";

/**
 * RFC 6238 as every authenticator app speaks it: HMAC-SHA-1, 6 digits, 30-second steps, one step of
 * drift either way (RFC 6238 §5.2's recommended window). The arithmetic is otpauth's.
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
export const TOTP_DRIFT_STEPS = 1;
/** 160 bits, the HMAC-SHA-1 block RFC 4226 §4 recommends. */
const SECRET_BYTES = 20;

export const isTotpCode = (code: string) => /^\d{6}$/.test(code);

/** A new shared secret, base32 as authenticator apps take it. */
export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

/** `otpauth://totp/<issuer>:<account>?secret=…&issuer=…`, the URI a QR code carries. */
export function totpUri(secret: string, issuer: string, account: string): string {
  return totp(secret, issuer, account).toString();
}

/**
 * The time step whose code `code` is, within one step of now; null when it matches none. The
 * caller refuses a step at or before the last one it accepted (RFC 6238 §5.2: each code once).
 */
export function matchTotpStep(secret: string, code: string, nowMs: number): number | null {
  if (!isTotpCode(code)) return null;
  const delta = totp(secret).validate({ token: code, timestamp: nowMs, window: TOTP_DRIFT_STEPS });
  return delta === null ? null : Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

function totp(secret: string, issuer = "", label = ""): TOTP {
  return new TOTP({
    issuer,
    label,
    issuerInLabel: issuer !== "",
    secret: Secret.fromBase32(secret),
    algorithm: "SHA1",
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}
