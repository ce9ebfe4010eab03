import type { Logger } from "pino";
import type { Mail, Outbox } from "../auth/mail-links/outbox";
import type { Metrics } from "../metrics";
import type { Mailer } from "./mailer";
import type { MailTemplates } from "./templates";

/** Mails waiting at most; past it a new one is dropped (and counted), so a flood cannot fill memory. */
export const MAIL_QUEUE_MAX = 1000;
/** Mails on the wire at once. */
const CONCURRENCY = 2;
/** The first retry waits this long; each next one twice as long. */
const FIRST_RETRY_MS = 1000;

interface Pending {
  readonly mail: Mail;
  attempts: number;
}

export interface MailQueueOptions {
  readonly maxAttempts: number;
  /** False with MAIL_URL=off: nothing is ever posted. */
  readonly enabled: boolean;
  /** Milliseconds before the first retry; doubles each time. */
  readonly firstRetryMs?: number;
}

/**
 * The Outbox: mails are sent after the response, a few at a time, from a bounded in-process queue,
 * with retries that back off. A failure is logged by template and error only (never the text, which
 * holds the link and its token) and counted. Mails still queued when the process stops are lost:
 * each flow can be asked again.
 */
export class MailQueue implements Outbox {
  private readonly waiting: Pending[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private sending = 0;
  private stopped = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly mailer: Mailer,
    private readonly templates: MailTemplates,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly options: MailQueueOptions,
  ) {}

  get enabled(): boolean {
    return this.options.enabled;
  }

  post(mail: Mail): void {
    if (this.stopped || !this.options.enabled) return;
    if (this.waiting.length + this.sending + this.timers.size >= MAIL_QUEUE_MAX) {
      this.metrics.mailFailures.inc({ template: mail.template, outcome: "dropped" });
      this.logger.error({ template: mail.template, queued: MAIL_QUEUE_MAX }, "mail queue full: mail dropped");
      return;
    }
    this.waiting.push({ mail, attempts: 0 });
    // After the current request's response is on its way.
    setImmediate(() => this.pump());
  }

  /** Resolves when nothing is queued, sending or waiting to retry; for tests and shutdown. */
  settled(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops taking and retrying mails; waits up to `withinMs` for those on the wire. */
  async stop(withinMs = 5000): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const lost = this.waiting.splice(0).length;
    if (lost > 0) this.logger.warn({ lost }, "stopping: queued mails were not sent");
    if (this.sending > 0) await Promise.race([this.settled(), new Promise((r) => setTimeout(r, withinMs).unref())]);
    await this.mailer.close();
  }

  private pump(): void {
    while (!this.stopped && this.sending < CONCURRENCY && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      this.sending++;
      void this.attempt(next).finally(() => {
        this.sending--;
        this.pump();
        this.notifyIfIdle();
      });
    }
    this.notifyIfIdle();
  }

  private async attempt(pending: Pending): Promise<void> {
    const { template } = pending.mail;
    pending.attempts++;
    try {
      await this.mailer.send(this.templates.render(pending.mail));
      this.metrics.mailSent.inc({ template });
      return;
    } catch (error) {
      const err = describe(error);
      if (pending.attempts < this.options.maxAttempts && !this.stopped) {
        this.metrics.mailRetries.inc();
        this.logger.warn({ template, attempt: pending.attempts, err }, "mail not sent; will retry");
        this.retryLater(pending);
        return;
      }
      this.metrics.mailFailures.inc({ template, outcome: "failed" });
      this.logger.error({ template, attempts: pending.attempts, err }, "mail not sent; given up");
    }
  }

  private retryLater(pending: Pending): void {
    const delay = (this.options.firstRetryMs ?? FIRST_RETRY_MS) * 2 ** (pending.attempts - 1);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.waiting.push(pending);
      this.pump();
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }

  private isIdle(): boolean {
    return this.waiting.length === 0 && this.sending === 0 && this.timers.size === 0;
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}

/** The error's name, code and first line only: an SMTP reply may quote what was sent. */
function describe(error: unknown): { name: string; code?: string; message: string } {
  const { name, message, code } = error instanceof Error ? (error as Error & { code?: string }) : { name: "Error", message: String(error), code: undefined };
  return { name, ...(code ? { code } : {}), message: message.split("\n")[0]!.slice(0, 200) };
}
