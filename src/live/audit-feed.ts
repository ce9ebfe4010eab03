import type { Logger } from "pino";
import { auditFilterMatcher, checkAuditFilter, type AuditFilter } from "../auth/audit/audit-trail";
import { storeUnavailable } from "../errors";
import type { Metrics } from "../metrics";
import type { AuditRecord, AuditTail } from "../store/store";
import { eventQueue } from "./event-queue";

/** The last item of a subscription that fell too far behind: it ends with SUBSCRIBER_TOO_SLOW. */
export interface AuditOverflow {
  readonly overflowed: true;
}

/** What one live `auditEvents` subscription yields. */
export type AuditFeedItem = AuditRecord | AuditOverflow;

export const isOverflow = (item: AuditFeedItem): item is AuditOverflow => "overflowed" in item;

const OVERFLOW: AuditOverflow = Object.freeze({ overflowed: true });

/** One read waits this long for an event; the tail is closed, not waited out, when the last subscriber leaves. */
const READ_BLOCK_MS = 5_000;
/** Entries one read hands over, at most; never more than one subscriber may hold (LIVE_AUDIT_MAX_QUEUED). */
const READ_COUNT = 500;
/**
 * Before the next read the tail waits up to this long for every subscriber to have room for a whole
 * read; past it, it reads anyway and a subscriber still full is ended (SUBSCRIBER_TOO_SLOW).
 */
const ROOM_WAIT_MS = 1_000;
/** After a failed read the tail waits 100 ms, doubling up to this, before the next. */
const MAX_BACKOFF_MS = 5_000;

export interface AuditFeedOptions {
  /** Opens a tail of the global audit stream (Store.openAuditTail). */
  readonly open: () => Promise<AuditTail>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** LIVE_AUDIT_MAX_QUEUED: events held for one subscriber that has not read them; one more ends it. */
  readonly maxQueued: number;
  /** How long the tail waits for a full subscriber before the next read (ROOM_WAIT_MS); tests shorten it. */
  readonly roomWaitMs?: number;
}

interface Subscriber {
  readonly matches: (event: AuditRecord) => boolean;
  /** Events held for it, not yet taken. */
  readonly size: number;
  push(item: AuditFeedItem): void;
  /** Ends the subscription as if its client had completed it. */
  end(): void;
}

/** One tail and its read loop, from the first subscriber to the last. */
interface Run {
  opened: Promise<void>;
  tail: AuditTail | null;
  stopped: boolean;
  /** Ends a back-off, or a wait for room, early: when the run stops. */
  wake: (() => void) | null;
  /** While the loop waits for room: looks again (a subscriber took an event, or left). */
  roomMade: (() => void) | null;
}

/**
 * The live audit trail of this instance: one tail of the global stream, open only while at least
 * one admin subscription is, fanned out to every subscription through its filter. Every instance
 * reads the stream itself, so an event written on any instance reaches the subscribers of all.
 * A failed read is retried with back-off from the same position. Reads are paced by the
 * subscribers: one hands over no more than a subscriber may hold, and the next waits (a bounded
 * while) until each has room for it, so a burst reaches a subscriber that keeps up however large it
 * is. One that does not keep up is ended (LIVE_AUDIT_MAX_QUEUED) rather than silently skipped,
 * since an audit reader must know when it missed something.
 */
export class AuditFeed {
  private readonly subscribers = new Set<Subscriber>();
  private run: Run | null = null;
  private closed = false;
  private readonly readCount: number;

  constructor(private readonly options: AuditFeedOptions) {
    this.readCount = Math.min(READ_COUNT, options.maxQueued);
  }

  /**
   * Events written from now on that pass `filter`, oldest first. Resolves once the tail is in
   * place: every event appended after that reaches the subscription. Refuses a bad filter
   * (BAD_USER_INPUT), and answers SERVICE_UNAVAILABLE when the store cannot open the tail.
   * `closed`: the subscriber's connection; aborted while the tail opened, the subscription
   * resolves already ended, so it never runs for a socket that is gone.
   */
  async subscribe(filter: AuditFilter, closed?: AbortSignal): Promise<AsyncIterableIterator<AuditFeedItem>> {
    checkAuditFilter(filter);
    if (this.closed) throw storeUnavailable();
    const { metrics, maxQueued } = this.options;
    let counted = false;
    const queue = eventQueue<AuditFeedItem>(
      (overflowed) => {
        this.subscribers.delete(subscriber);
        if (overflowed) metrics.liveAuditOverflows.inc();
        if (counted) metrics.liveAuditSubscriptions.dec();
        if (this.subscribers.size === 0) this.stop();
        else this.run?.roomMade?.();
      },
      {
        max: maxQueued,
        overflow: OVERFLOW,
        taken: () => {
          if (queue.size + this.readCount <= maxQueued) this.run?.roomMade?.();
        },
      },
    );
    const subscriber: Subscriber = {
      matches: auditFilterMatcher(filter),
      get size() {
        return queue.size;
      },
      push: queue.push,
      end: () => void queue.iterator.return!(),
    };
    // Counted before the tail opens, so the last of those waiting cannot stop it under the others.
    this.subscribers.add(subscriber);
    try {
      await (this.run ?? this.start()).opened;
    } catch (error) {
      subscriber.end();
      throw error;
    }
    if (closed?.aborted) subscriber.end();
    // Ended while the tail opened (shutdown, or its connection closed): the iterator is done already.
    if (this.subscribers.has(subscriber)) {
      counted = true;
      metrics.liveAuditSubscriptions.inc();
    }
    return queue.iterator;
  }

  /** Shutdown: completes every subscription and closes the tail. */
  close(): void {
    this.closed = true;
    for (const subscriber of [...this.subscribers]) subscriber.end();
    this.stop();
  }

  private start(): Run {
    const run: Run = { opened: Promise.resolve(), tail: null, stopped: false, wake: null, roomMade: null };
    this.run = run;
    run.opened = this.options.open().then(
      (tail) => {
        run.tail = tail;
        if (run.stopped) tail.close();
        else void this.follow(run);
      },
      (error: unknown) => {
        if (this.run === run) this.run = null;
        run.stopped = true;
        throw error;
      },
    );
    // Each subscriber awaits it; this keeps a failure with none left waiting from being unhandled.
    run.opened.catch(() => undefined);
    return run;
  }

  private stop(): void {
    const run = this.run;
    if (!run) return;
    this.run = null;
    run.stopped = true;
    run.tail?.close();
    run.wake?.();
  }

  private async follow(run: Run): Promise<void> {
    let failures = 0;
    while (!run.stopped) {
      await this.room(run);
      if (run.stopped) return;
      let records: AuditRecord[];
      try {
        records = await run.tail!.read(READ_BLOCK_MS, this.readCount);
      } catch (error) {
        if (run.stopped) return;
        failures++;
        this.options.metrics.liveAuditTailErrors.inc();
        if (failures === 1) {
          const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
          this.options.logger.warn({ err: { name, message } }, "could not read the audit trail for live subscribers; retrying from where it stopped");
        }
        await this.backOff(run, Math.min(100 * 2 ** (failures - 1), MAX_BACKOFF_MS));
        continue;
      }
      if (failures > 0) this.options.logger.info({ failures }, "reading the audit trail for live subscribers again");
      failures = 0;
      for (const record of records) {
        for (const subscriber of this.subscribers) if (subscriber.matches(record)) subscriber.push(record);
      }
    }
  }

  /** Resolves once every subscriber can hold a whole read, or after ROOM_WAIT_MS, or when the run stops. */
  private room(run: Run): Promise<void> {
    const fits = () => {
      for (const subscriber of this.subscribers) if (subscriber.size + this.readCount > this.options.maxQueued) return false;
      return true;
    };
    if (fits()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => run.wake?.(), this.options.roomWaitMs ?? ROOM_WAIT_MS);
      run.wake = () => {
        clearTimeout(timer);
        run.wake = null;
        run.roomMade = null;
        resolve();
      };
      run.roomMade = () => {
        if (fits()) run.wake?.();
      };
    });
  }

  private backOff(run: Run, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => run.wake?.(), ms);
      run.wake = () => {
        clearTimeout(timer);
        run.wake = null;
        resolve();
      };
    });
  }
}
