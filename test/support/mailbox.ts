import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { eventually } from "./redis-node";

export interface ReceivedMail {
  readonly to: readonly string[];
  readonly from: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/**
 * A real SMTP server in the test process (smtp-server), keeping every mail it accepts, parsed with
 * mailparser. Give the API its `url` as MAIL_URL.
 */
export class Mailbox {
  private constructor(
    private readonly server: SMTPServer,
    readonly url: string,
    readonly mails: ReceivedMail[],
  ) {}

  static async start(): Promise<Mailbox> {
    const mails: ReceivedMail[] = [];
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, session, callback) {
        simpleParser(stream).then(
          (parsed) => {
            mails.push({
              to: session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase()),
              from: parsed.from?.text ?? "",
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
              html: typeof parsed.html === "string" ? parsed.html : "",
            });
            callback();
          },
          (error: Error) => callback(error),
        );
      },
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.server.address() as AddressInfo;
    return new Mailbox(server, `smtp://127.0.0.1:${port}`, mails);
  }

  /** Every mail to `address` so far, oldest first. */
  to(address: string): ReceivedMail[] {
    return this.mails.filter((mail) => mail.to.includes(address.toLowerCase()));
  }

  /** Waits for the `n`th (1-based) mail to `address` whose subject matches. */
  async nth(address: string, subject: RegExp, n = 1): Promise<ReceivedMail> {
    const matching = () => this.to(address).filter((mail) => subject.test(mail.subject));
    await eventually(`mail #${n} to ${address} matching ${subject}`, async () => matching().length >= n, 10_000);
    return matching()[n - 1]!;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The link's token: what follows `#token=` in the mail's text. */
export function tokenIn(mail: ReceivedMail): string {
  const match = /[#?]token=([^\s]+)/.exec(mail.text);
  if (!match) throw new Error(`no token in mail "${mail.subject}":\n${mail.text}`);
  return decodeURIComponent(match[1]!);
}

/** The whole link, as the mail shows it. */
export function linkIn(mail: ReceivedMail): string {
  const match = /(https?:\/\/\S+[#?]token=\S+)/.exec(mail.text);
  if (!match) throw new Error(`no link in mail "${mail.subject}"`);
  return match[1]!;
}
