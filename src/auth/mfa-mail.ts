import type { MfaNotices } from "./mfa";
import type { Outbox } from "./outbox";

/**
 * The second factor's notices as mail (NIST SP 800-63B: notify on every use of a recovery path):
 * a recovery code spent, TOTP turned off. Posted to the outbox, so they never delay the answer.
 */
export function mfaMailNotices(outbox: Outbox): MfaNotices {
  return {
    recoveryCodeUsed(user, remaining) {
      outbox.post({ to: user.email, template: "mfa-recovery-code-used", values: { email: user.email, remaining: String(remaining) } });
    },
    totpDisabled(user, by) {
      outbox.post({ to: user.email, template: "mfa-disabled", values: { email: user.email, by: by === "admin" ? "by an administrator" : "from one of your signed-in devices" } });
    },
  };
}
