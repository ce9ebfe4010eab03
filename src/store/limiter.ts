import type { RateLimiterAbstract, RateLimiterRes } from "rate-limiter-flexible";

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

type Guard = <T>(operation: () => Promise<T>) => Promise<T>;

/** Adapts a rate-limiter-flexible limiter; `guard` turns a store failure into the store's own error. */
export class FlexibleLimiter implements Limiter {
  constructor(
    private readonly limiter: RateLimiterAbstract,
    private readonly guard: Guard = (operation) => operation(),
  ) {}

  get points(): number {
    return this.limiter.points;
  }

  get(key: string): Promise<LimiterState | null> {
    return this.guard(async () => {
      const res = await this.limiter.get(key);
      return res === null ? null : toState(res);
    });
  }

  hit(key: string): Promise<LimiterState> {
    return this.guard(async () => toState(await this.limiter.penalty(key, 1)));
  }

  refund(key: string): Promise<void> {
    return this.guard(async () => {
      await this.limiter.reward(key, 1);
    });
  }

  block(key: string, seconds: number): Promise<void> {
    return this.guard(async () => {
      await this.limiter.block(key, seconds);
    });
  }

  reset(key: string): Promise<void> {
    return this.guard(async () => {
      await this.limiter.delete(key);
    });
  }
}

function toState(res: RateLimiterRes): LimiterState {
  return { count: res.consumedPoints, msLeft: Math.max(0, res.msBeforeNext) };
}
