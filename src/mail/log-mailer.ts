import type { Logger } from "pino";
import type { Mailer, MailMessage } from "./mailer";

/**
 * No MAIL_URL outside production: each mail is one log line with its text, links included, so a
 * first run can follow every flow. config.ts refuses it in production, where links are secrets.
 */
export class LogMailer implements Mailer {
  constructor(private readonly logger: Logger) {}

  async send({ to, subject, text }: MailMessage): Promise<void> {
    this.logger.info({ mail: { to, subject, text } }, "mail written to the log (no MAIL_URL)");
  }

  async close(): Promise<void> {}
}
