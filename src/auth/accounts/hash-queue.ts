import type { HashingLimits } from "../../config";
import { ThrottledError } from "../../errors";
import { clientKey } from "../shared/client-key";

interface ClientQueue {
  inFlight: number;
  readonly waiting: (() => void)[];
}

/** A first guess at one argon2 call, before any has been timed. */
const INITIAL_HASH_MS = 50;

/**
 * A bounded queue in front of argon2, served round-robin by client (an IPv4 address or an IPv6
 * /64): one client with many logins in flight gets its turn like everyone else, never the whole
 * thread pool, so a bystander's login waits for at most about one hash per busy client.
 */
export class HashQueue {
  private readonly clients = new Map<string, ClientQueue>();
  /** Clients with waiting work, in turn order. */
  private readonly turns: string[] = [];
  private inFlight = 0;
  private queued = 0;
  private averageMs = INITIAL_HASH_MS;

  constructor(
    private readonly limits: HashingLimits,
    private readonly onRefused: (clientIp: string) => void = () => undefined,
  ) {}

  /** Runs `work` in the client's turn; refuses at once (429) when that client's queue or the whole queue is full. */
  async run<T>(clientIp: string, work: () => Promise<T>): Promise<T> {
    const client = clientKey(clientIp);
    const queue = this.queueOf(client);
    if (!this.canStart(queue) || queue.waiting.length > 0) {
      if (queue.waiting.length >= this.limits.maxQueuedPerClient || this.queued >= this.limits.maxQueued) {
        this.forget(client, queue);
        this.onRefused(clientIp);
        throw new ThrottledError("LOGIN_THROTTLED", this.retryAfterSeconds(queue), "Too many password checks in flight from this client; try again later");
      }
      await new Promise<void>((resolve) => {
        if (queue.waiting.push(resolve) === 1) this.turns.push(client);
        this.queued++;
      });
    } else {
      queue.inFlight++;
      this.inFlight++;
    }
    const started = Date.now();
    try {
      return await work();
    } finally {
      this.averageMs = this.averageMs * 0.8 + (Date.now() - started) * 0.2;
      queue.inFlight--;
      this.inFlight--;
      this.forget(client, queue);
      this.serveNext();
    }
  }

  /** Hands free slots out in turn: one to each waiting client below its own limit, then around again. */
  private serveNext(): void {
    let skipped = 0;
    while (this.inFlight < this.limits.maxInFlight && skipped < this.turns.length) {
      const client = this.turns.shift()!;
      const queue = this.clients.get(client)!;
      if (queue.inFlight < this.limits.maxInFlightPerClient) {
        const start = queue.waiting.shift()!;
        queue.inFlight++;
        this.inFlight++;
        this.queued--;
        skipped = 0;
        start();
      } else {
        skipped++;
      }
      if (queue.waiting.length > 0) this.turns.push(client);
    }
  }

  private canStart(queue: ClientQueue): boolean {
    return this.inFlight < this.limits.maxInFlight && queue.inFlight < this.limits.maxInFlightPerClient;
  }

  /** Roughly when this client's queue will have room again. */
  private retryAfterSeconds(queue: ClientQueue): number {
    const waits = Math.max(queue.waiting.length, this.queued / Math.max(1, this.turns.length));
    return Math.max(1, Math.ceil((waits * this.averageMs) / this.limits.maxInFlightPerClient / 1000));
  }

  private queueOf(client: string): ClientQueue {
    let queue = this.clients.get(client);
    if (!queue) {
      queue = { inFlight: 0, waiting: [] };
      this.clients.set(client, queue);
    }
    return queue;
  }

  private forget(client: string, queue: ClientQueue): void {
    if (queue.inFlight === 0 && queue.waiting.length === 0) this.clients.delete(client);
  }
}
