import type { MfaNotices } from "../auth/mfa/mfa";
import type { Outbox } from "../auth/mail-links/outbox";
import type { PasskeyNotices } from "../auth/passkeys/passkeys";
import { isLocale, Translator } from "../i18n/i18n";

/** The mail's language: the request's, else English; the phrases filled into a template come from the same catalog. */
const languageOf = (locale: string | undefined) => new Translator(isLocale(locale) ? locale : "en");
const describeDevice = (t: Translator, device: string | null) => (device === null ? t.t("mail.device.unnamed") : t.t("mail.device.named", { device }));
const localeField = (t: Translator) => ({ locale: t.locale });

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
    totpDisabled(user, by, device, locale) {
      const t = languageOf(locale);
      const from = by === "admin" ? t.t("mail.by.admin") : device === undefined ? t.t("mail.by.someDevice") : t.t("mail.by.device", { device: describeDevice(t, device) });
      outbox.post({ to: user.email, template: "mfa-disabled", values: { email: user.email, by: from, device: describeDevice(t, device ?? null) }, ...localeField(t) });
    },
    totpEnabled(user, device, locale) {
      const t = languageOf(locale);
      outbox.post({ to: user.email, template: "mfa-enabled", values: { email: user.email, device: describeDevice(t, device) }, ...localeField(t) });
    },
    recoveryCodesRegenerated(user, device) {
      outbox.post({ to: user.email, template: "recovery-codes-regenerated", values: { email: user.email, device: describeDevice(languageOf(undefined), device) } });
    },
    passkeyAdded(user, name, device, locale) {
      const t = languageOf(locale);
      outbox.post({ to: user.email, template: "passkey-added", values: { email: user.email, name, device: describeDevice(t, device) }, ...localeField(t) });
    },
    passkeyRemoved(user, name, device, locale) {
      const t = languageOf(locale);
      outbox.post({ to: user.email, template: "passkey-removed", values: { email: user.email, name, device: describeDevice(t, device) }, ...localeField(t) });
    },
  };
}
