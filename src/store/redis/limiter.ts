import { keys } from "@revocable-auth/verifier/internal";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { FlexibleLimiter, type Limiter, type LimiterSpec } from "../limiter";
import type { RedisClient } from "./connection";

/**
 * A throttling limiter on an ioredis client: a single connection or a Cluster (each counter is one
 * key, so one slot). Refuses at once, rather than queueing, while the client is not ready.
 */
export function redisLimiter(
  client: RedisClient,
  spec: LimiterSpec,
  guard?: ConstructorParameters<typeof FlexibleLimiter>[1],
): Limiter {
  const limiter = new RateLimiterRedis({
    storeClient: client,
    keyPrefix: keys.throttle(spec.name),
    points: spec.points,
    duration: spec.windowSeconds,
    rejectIfRedisNotReady: true,
  });
  return new FlexibleLimiter(limiter, guard);
}
