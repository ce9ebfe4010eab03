import { RateLimiterMemory } from "rate-limiter-flexible";
import type { Clock } from "../../clock";
import { FlexibleLimiter, type Limiter, type LimiterSpec } from "../limiter";
import type { Store } from "../store";
import { memoryAudit } from "./audit";
import { MemoryCore } from "./core";
import { memoryFederation } from "./federation";
import { memoryIdentities } from "./identities";
import { memoryKeySet } from "./key-set";
import { memoryMailTokens } from "./mail-tokens";
import { memoryMfa } from "./mfa";
import { memoryOAuthClients } from "./oauth-clients";
import { memoryOAuthModels } from "./oauth-models";
import { memoryPasskeys } from "./passkeys";
import { memorySessions } from "./sessions";
import { memoryTransitions } from "./transitions";
import { memoryUsers } from "./users";

const SWEEP_EVERY_MS = 60_000;

/**
 * Every port, assembled onto the class below: its methods are the concern files', copied on in the
 * constructor from objects typed as Store's ports (so none is missing, and none has an extra key).
 */
export interface MemoryStore extends Store {}

/**
 * The embedded store: the same contract as Redis, for one process. Each method is one synchronous
 * step, so it is atomic the way a Lua script is. Expired entries are invisible at once and are
 * swept out periodically, so memory does not grow with past tokens. The maps live in one core
 * (core.ts); each concern's methods in a file of their own, assembled here.
 */
export class MemoryStore {
  private readonly core: MemoryCore;
  private readonly sweeper: NodeJS.Timeout;

  constructor(clock: Clock) {
    const core = (this.core = new MemoryCore(clock));
    const ports: Omit<Store, "limiter" | "ping" | "close"> = {
      ...memoryUsers(core), ...memorySessions(core), ...memoryMfa(core), ...memoryPasskeys(core),
      ...memoryMailTokens(core), ...memoryTransitions(core), ...memoryAudit(core), ...memoryKeySet(core),
      ...memoryIdentities(core), ...memoryFederation(core), ...memoryOAuthClients(core), ...memoryOAuthModels(core),
    };
    Object.assign(this, ports);
    this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  /** Counters in this process's memory, as the store itself is. */
  limiter(spec: LimiterSpec): Limiter {
    return new FlexibleLimiter(new RateLimiterMemory({ keyPrefix: spec.name, points: spec.points, duration: spec.windowSeconds }));
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const tail of [...this.core.auditTails]) tail.close();
  }

  /** Drops everything that has expired; what is left is exactly what Redis would still hold. */
  sweep(): void {
    this.core.sweep();
  }

  /** How many entries that expire (sessions, cutoffs, revocations, challenges) are held; for leak tests. */
  expiringEntryCount(): number {
    return this.core.expiringEntryCount();
  }
}
