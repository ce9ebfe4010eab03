import type { MfaNotices } from "../auth/mfa/mfa";
import type { Outbox } from "../auth/mail-links/outbox";
import type { PasskeyNotices } from "../auth/passkeys/passkeys";

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
