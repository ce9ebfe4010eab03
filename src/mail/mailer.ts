/** One rendered mail, ready for a transport. */
export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** The narrow port to a mail transport: SMTP (smtp-mailer.ts) or the log (log-mailer.ts). */
export interface Mailer {
  /** Resolves once the transport accepted the mail; rejects otherwise (the queue retries). */
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}
