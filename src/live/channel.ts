import { encodeLiveEvent, parseLiveEvent, type LiveEvent } from "@revocable-auth/verifier/internal";

/** What a channel hands its one listener. */
export interface LiveListener {
  event(event: LiveEvent): void;
  /**
   * The subscription was lost and is back (the subscriber reconnected): anything published
   * meanwhile may be lost, so every live connection is re-checked at once.
   */
  resubscribed(): void;
}

/**
 * The port between this instance and every other: revocations and sign-ins go out on it and come
 * back from it, this instance's own included. Chosen at the composition root like the store:
 * Redis pub/sub (sharded on a Cluster) or, for the embedded store, an in-process emitter.
 * Delivery is at most once; the periodic re-check (connections.ts) bounds what a lost message costs.
 */
export interface LiveChannel {
  publish(event: LiveEvent): Promise<void>;
  /** Subscribes; resolves once messages flow. One listener per channel. */
  listen(listener: LiveListener): Promise<void>;
  close(): Promise<void>;
}

/** The embedded store's channel: one process, so one emitter; messages still go through the wire encoding. */
export class InProcessChannel implements LiveChannel {
  private listener: LiveListener | null = null;

  async publish(event: LiveEvent): Promise<void> {
    const message = encodeLiveEvent(event);
    // Delivered from a later turn, as a Redis message would be: never inside the revoking call.
    queueMicrotask(() => {
      const parsed = parseLiveEvent(message);
      if (parsed) this.listener?.event(parsed);
    });
  }

  async listen(listener: LiveListener): Promise<void> {
    this.listener = listener;
  }

  async close(): Promise<void> {
    this.listener = null;
  }
}
