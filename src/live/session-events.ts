import type { RevocationEvent, RevocationKind } from "@revocable-auth/verifier";

export type SessionEventType = "SIGNED_IN" | "SESSION_ENDED" | "PASSWORD_CHANGED" | "ROLES_CHANGED";

/** What a `sessionEvents` subscriber is told about the user's other sessions. */
export interface SessionEventRecord {
  readonly type: SessionEventType;
  /** The session that began or ended; null when the event is about the user, or about several sessions. */
  readonly sessionId: string | null;
  /** SIGNED_IN: the new session's device name. */
  readonly device: string | null;
  /** Epoch ms, from the event. */
  readonly at: number;
  /** SESSION_ENDED: what ended it. */
  readonly reason: RevocationKind | null;
}

/** What a connection that stays open hears of a revocation that did not end its own session. */
export function noticeOf(event: RevocationEvent): SessionEventRecord | null {
  const base = { sessionId: null, device: null, at: event.at, reason: null };
  switch (event.kind) {
    case "password_change":
      return { ...base, type: "PASSWORD_CHANGED" };
    case "roles_changed":
      return { ...base, type: "ROLES_CHANGED" };
    case "all_sessions":
    case "user_disabled":
      return null;
    default:
      return { ...base, type: "SESSION_ENDED", sessionId: event.sessionId ?? null, reason: event.kind };
  }
}

/** Events not yet read by a slow subscriber past this are dropped, oldest first: a socket's memory stays bounded. */
const MAX_QUEUED = 100;

/**
 * A push-fed async iterator, the source of one `sessionEvents` subscription: `push` from the
 * channel's listener, iterated by graphql-ws; `return` (the client's complete, or the socket's
 * close) ends it and unhooks it.
 */
export function eventQueue<T>(onEnd: () => void): { push(value: T): void; iterator: AsyncIterableIterator<T> } {
  const queued: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | null = null;
  let done = false;
  const finish = async (): Promise<IteratorResult<T>> => {
    if (!done) {
      done = true;
      onEnd();
      waiting?.({ value: undefined, done: true });
      waiting = null;
    }
    return { value: undefined, done: true };
  };
  const iterator: AsyncIterableIterator<T> = {
    next: () => {
      if (queued.length > 0) return Promise.resolve({ value: queued.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
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
    push(value) {
      if (done) return;
      if (waiting) {
        const resolve = waiting;
        waiting = null;
        resolve({ value, done: false });
        return;
      }
      queued.push(value);
      if (queued.length > MAX_QUEUED) queued.shift();
    },
  };
}
