import type { Transporter } from "nodemailer";
import type { Mailer, MailMessage } from "./mailer";

/** Bounds on one SMTP conversation, so a hung server holds the queue for seconds, not minutes. */
const CONNECTION_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

/** Sends over SMTP with nodemailer; MAIL_URL carries host, port, TLS (smtps://) and credentials. */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(url: string, private readonly from: string) {
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

  async send(message: MailMessage): Promise<void> {
    await this.transport.sendMail({ from: this.from, ...message });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
