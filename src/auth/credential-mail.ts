import type { Origin } from "./accounts";
import type { MfaNotices } from "./mfa";
import type { Outbox } from "./outbox";
import type { PasskeyNotices } from "./passkeys";

/** The most of a User-Agent a notice quotes when the session has no device name. */
const MAX_DEVICE_CHARS = 120;

/**
 * Which device a credential change came from, as a notice names it: the device name the session
 * was given at sign-in, else the User-Agent of the request that made the change; null when neither.
 */
export function deviceOf(session: { readonly device: string | null } | null, origin: Pick<Origin, "userAgent">): string | null {
  const named = session?.device?.trim();
  if (named) return named;
  const agent = origin.userAgent?.trim();
  return agent ? agent.slice(0, MAX_DEVICE_CHARS) : null;
}

const describeDevice = (device: string | null) => (device === null ? "a device without a name" : `the device "${device}"`);

/**
 * Every credential added to or removed from an account, as mail to its address (NIST SP 800-63B
 * §6.1.2.1: notify the subscriber of a new authenticator bound to the account), naming the
 * credential and the device: a passkey or TOTP added with a stolen session is seen by the owner.
 * Also the second factor's other notices: a recovery code spent. Posted to the outbox, so they
 * never delay the answer.
 */
export function credentialMailNotices(outbox: Outbox): MfaNotices & PasskeyNotices {
  return {
    recoveryCodeUsed(user, remaining) {
      outbox.post({ to: user.email, template: "mfa-recovery-code-used", values: { email: user.email, remaining: String(remaining) } });
    },
    totpDisabled(user, by, device) {
      const from = by === "admin" ? "by an administrator" : device === undefined ? "from one of your signed-in devices" : `from ${describeDevice(device)}`;
      outbox.post({ to: user.email, template: "mfa-disabled", values: { email: user.email, by: from, device: describeDevice(device ?? null) } });
    },
    totpEnabled(user, device) {
      outbox.post({ to: user.email, template: "mfa-enabled", values: { email: user.email, device: describeDevice(device) } });
    },
    recoveryCodesRegenerated(user, device) {
      outbox.post({ to: user.email, template: "recovery-codes-regenerated", values: { email: user.email, device: describeDevice(device) } });
    },
    passkeyAdded(user, name, device) {
      outbox.post({ to: user.email, template: "passkey-added", values: { email: user.email, name, device: describeDevice(device) } });
    },
    passkeyRemoved(user, name, device) {
      outbox.post({ to: user.email, template: "passkey-removed", values: { email: user.email, name, device: describeDevice(device) } });
    },
  };
}
