/** What a subscriber too slow for its events costs, at most. */
export interface QueueBound<T> {
  /** Events held for a subscriber that has not read them yet. */
  readonly max: number;
  /**
   * Absent: past `max`, the oldest is dropped. Given: past `max`, the queue takes this as its last
   * item and ends, so a subscriber that must not miss events learns that it did.
   */
  readonly overflow?: T;
  /** Called each time the consumer takes a held event: the queue has room again (flow control). */
  readonly taken?: () => void;
}

/** sessionEvents: a slow subscriber keeps the latest 100. */
const KEEP_LATEST = 100;

/**
 * A push-fed async iterator, the source of one subscription: `push` from the event's listener,
 * iterated by graphql-ws; `return` (the client's complete, or the socket's close) ends it. `onEnd`
 * unhooks it from its source, once: at `return`, or at an overflow (`overflowed` true).
 */
export function eventQueue<T>(
  onEnd: (overflowed: boolean) => void,
  bound: QueueBound<T> = { max: KEEP_LATEST },
): { push(value: T): void; readonly size: number; iterator: AsyncIterableIterator<T> } {
  const queued: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | null = null;
  /** No more pushes: overflowed, or returned. */
  let sealed = false;
  let done = false;
  const seal = (overflowed: boolean) => {
    if (sealed) return;
    sealed = true;
    onEnd(overflowed);
  };
  const finish = async (): Promise<IteratorResult<T>> => {
    if (!done) {
      done = true;
      queued.length = 0;
      seal(false);
      waiting?.({ value: undefined, done: true });
      waiting = null;
    }
    return { value: undefined, done: true };
  };
  const iterator: AsyncIterableIterator<T> = {
    next: () => {
      if (queued.length > 0) {
        const value = queued.shift()!;
        bound.taken?.();
        return Promise.resolve({ value, done: false });
      }
      if (done || sealed) return finish();
      return new Promise((resolve) => (waiting = resolve));
    },
    return: finish,
    throw: async (error: unknown) => {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return {
    iterator,
    /** Events held, not yet taken. */
    get size() {
      return queued.length;
    },
    push(value) {
      if (sealed) return;
      if (waiting) {
        const resolve = waiting;
        waiting = null;
        resolve({ value, done: false });
        return;
      }
      if (queued.length < bound.max) {
        queued.push(value);
      } else if (bound.overflow === undefined) {
        queued.shift();
        queued.push(value);
      } else {
        queued.push(bound.overflow);
        seal(true);
      }
    },
  };
}
