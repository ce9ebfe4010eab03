import type { Transporter } from "nodemailer";
import type { Mailer, MailMessage } from "./mailer";

/** Bounds on one SMTP conversation, so a hung server holds the queue for seconds, not minutes. */
const CONNECTION_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

/** Sends over SMTP with nodemailer; MAIL_URL carries host, port, TLS (smtps://) and credentials. */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(
    private readonly url: string,
    private readonly from: string,
  ) {
    // Loaded here, not at the top: only a server that sends over SMTP pays nodemailer's load time at start.
    const nodemailer = require("nodemailer") as typeof import("nodemailer");
    // The URL's own settings (host, port, TLS, credentials, ?query options) win over these defaults.
    this.transport = nodemailer.createTransport({
      url,
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      greetingTimeout: CONNECTION_TIMEOUT_MS,
      socketTimeout: SOCKET_TIMEOUT_MS,
    });
  }

  /** Where the mails go, for log lines: host and port only, never the URL's credentials. */
  get server(): { host: string; port: number } {
    const url = new URL(this.url);
    return { host: url.hostname, port: Number(url.port || (url.protocol === "smtps:" ? 465 : 587)) };
  }

  /**
   * Connects, greets and (with credentials) logs in, then quits: what the first mail would do, so a
   * wrong host, port or password shows at start. Bounded by the connection timeouts above.
   */
  async verify(): Promise<void> {
    await this.transport.verify();
  }

  /** `text` with the URL's user name and password masked: a server's reply may echo them. */
  redact(text: string): string {
    const url = new URL(this.url);
    let redacted = text;
    for (const secret of [url.password, url.username].filter((part) => part.length > 0)) {
      for (const form of new Set([secret, decodeURIComponent(secret)])) redacted = redacted.split(form).join("***");
    }
    return redacted;
  }

  async send(message: MailMessage): Promise<void> {
    await this.transport.sendMail({ from: this.from, ...message });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
