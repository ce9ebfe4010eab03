/** Throttling counters (the adapter to rate-limiter-flexible: ../limiter.ts). Hot state, in Redis. */

/** A rate limit's shape; the store keeps its counters, so every instance sees the same counts. */
export interface LimiterSpec {
  /** Keeps one limiter's counters apart from another's. */
  readonly name: string;
  /** How many events the window holds before the key counts as over the limit. */
  readonly points: number;
  readonly windowSeconds: number;
}

export interface LimiterState {
  /** Events counted in the current window (above `points` while blocked). */
  readonly count: number;
  /** Milliseconds until the window, or the block, ends. */
  readonly msLeft: number;
}

/**
 * Counters in fixed windows, one key each (so a Redis Cluster keeps each in one slot). Backed by
 * rate-limiter-flexible: RateLimiterRedis on the store's own connection, RateLimiterMemory for the
 * embedded store.
 */
export interface Limiter {
  readonly points: number;
  /** Null when nothing was counted in the current window. */
  get(key: string): Promise<LimiterState | null>;
  /** Counts one event and returns the new state. */
  hit(key: string): Promise<LimiterState>;
  /** Takes back one event counted by `hit`. */
  refund(key: string): Promise<void>;
  /** Holds the key over its limit for `seconds`. */
  block(key: string, seconds: number): Promise<void>;
  reset(key: string): Promise<void>;
}

/** Hot state, in Redis whatever holds the directory (README.md). */
export interface LimiterStore {
  /** Throttling counters kept by this store (not instrumented: each call is its own store call). */
  limiter(spec: LimiterSpec): Limiter;
}
