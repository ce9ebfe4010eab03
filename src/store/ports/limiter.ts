import type { Limiter, LimiterSpec } from "../limiter";

/** Throttling counters (the limiter itself: ../limiter.ts). Hot state, in Redis. */

/** Hot state. */
export interface LimiterStore {
  /** Throttling counters kept by this store (not instrumented: each call is its own store call). */
  limiter(spec: LimiterSpec): Limiter;
}
