import { createHmac } from "node:crypto";

/** An entry of allowCredentials, as passkeyLoginOptions answers it. */
export interface AllowedCredential {
  readonly id: string;
  readonly transports: string[];
}

/**
 * The authenticators real registrations come from, weighted roughly as they occur: transports as
 * browsers report them (getTransports() is sorted and deduplicated by the spec), with the credential
 * id lengths, in bytes, such authenticators make. A synced platform passkey (iCloud Keychain, Google
 * Password Manager) reports hybrid and internal; Windows Hello internal; a passkey made on a phone
 * through a QR code hybrid; security keys usb, often with nfc; some browsers report nothing.
 */
const AUTHENTICATORS: readonly { readonly weight: number; readonly transports: readonly string[]; readonly idBytes: readonly number[] }[] = [
  { weight: 45, transports: ["hybrid", "internal"], idBytes: [16, 20] },
  { weight: 20, transports: ["internal"], idBytes: [32] },
  { weight: 10, transports: ["hybrid"], idBytes: [16] },
  { weight: 12, transports: ["nfc", "usb"], idBytes: [64] },
  { weight: 8, transports: ["usb"], idBytes: [64] },
  { weight: 5, transports: [], idBytes: [32] },
];

/** How many passkeys an account holds: most one, some a second device or a backup key, few more. */
const COUNTS: readonly { readonly weight: number; readonly count: number }[] = [
  { weight: 60, count: 1 },
  { weight: 28, count: 2 },
  { weight: 12, count: 3 },
];

/**
 * The stand-in allowCredentials for an address without passkeys (or without an account): 1 to 3
 * entries drawn from what real registrations look like, every choice and id an HMAC of the address
 * under `key`. So the answer has a real one's shape, and is the same on every instance sharing the
 * key and across restarts, as a real account's is.
 */
export function standInCredentials(key: Buffer, email: string): AllowedCredential[] {
  const mac = (label: string) => createHmac("sha512", key).update(`${label}\n${email}`).digest();
  const shape = mac("shape");
  const { count } = pick(COUNTS, shape.readUInt32BE(0));
  return Array.from({ length: count }, (_, i) => {
    const authenticator = pick(AUTHENTICATORS, shape.readUInt32BE(4 + 8 * i));
    const idBytes = authenticator.idBytes[shape.readUInt32BE(8 + 8 * i) % authenticator.idBytes.length]!;
    return { id: mac(`id ${i}`).subarray(0, idBytes).toString("base64url"), transports: [...authenticator.transports] };
  });
}

/** The weighted choice `draw` (a uniform 32-bit number) lands on. */
function pick<T extends { readonly weight: number }>(choices: readonly T[], draw: number): T {
  const total = choices.reduce((sum, choice) => sum + choice.weight, 0);
  let point = (draw / 2 ** 32) * total;
  for (const choice of choices) {
    if (point < choice.weight) return choice;
    point -= choice.weight;
  }
  return choices.at(-1)!;
}
