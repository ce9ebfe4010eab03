/**
 * The domain's port for outbound mail: a flow posts a named template and its values, and returns
 * at once. Rendering, queueing and the transport (SMTP, the log) live in src/mail; nothing here
 * waits for a mail to leave, so a slow or failing SMTP server never changes a response.
 */
export const MAIL_TEMPLATES = [
  "password-reset",
  "password-changed",
  "verify-email",
  "email-change-confirm",
  "email-change-requested",
  "account-exists",
  "mfa-recovery-code-used",
  "mfa-disabled",
  "mfa-enabled",
  "recovery-codes-regenerated",
  "passkey-added",
  "passkey-removed",
] as const;

export type MailTemplate = (typeof MAIL_TEMPLATES)[number];

export interface Mail {
  readonly to: string;
  readonly template: MailTemplate;
  /** Fills the template's {{name}} placeholders; a link holds a token, so values are never logged. */
  readonly values: Readonly<Record<string, string>>;
  /**
   * The language of the request that caused the mail (a catalog's tag, src/i18n): a template's
   * `{{t:key}}` text comes from that catalog. Absent, or one with no catalog: English.
   */
  readonly locale?: string;
}

export interface Outbox {
  /** False with MAIL_URL=off: the flows that need mail answer MAIL_DISABLED. */
  readonly enabled: boolean;
  /** Queues the mail; never throws, never waits. */
  post(mail: Mail): void;
}
