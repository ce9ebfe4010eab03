import type { RateLimiterAbstract, RateLimiterRes } from "rate-limiter-flexible";
import type { Limiter, LimiterState } from "./ports/limiter";

export type { Limiter, LimiterSpec, LimiterState } from "./ports/limiter";

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
