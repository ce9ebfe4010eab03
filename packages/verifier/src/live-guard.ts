import { accessStateKeys, parseAccessState } from "./access-state";
import { LIVE_CHANNEL, parseLiveEvent } from "./live";
import type { Identity } from "./outcomes";
import { endsSession, isRevoked } from "./revocation";
import type { RevocationReader } from "./verifier";

/**
 * A Redis connection in subscribe mode: an ioredis `Redis` duplicated for the purpose fits as it
 * is; on a Cluster, a `Cluster` with `shardedSubscribers: true` and `sharded: true` below.
 */
export interface LiveSubscriber {
  subscribe?(channel: string): Promise<unknown>;
  ssubscribe?(channel: string): Promise<unknown>;
  on(event: "message" | "smessage" | "ready", listener: (...args: string[]) => void): unknown;
}

export interface LiveGuardOptions {
  readonly subscriber: LiveSubscriber;
  /** The auth API's Redis, read-only, for the periodic re-check (the same MGET as a request). */
  readonly redis: RevocationReader;
  /** Every watched connection is re-checked at least this often. Default 5000, as the auth API's LIVE_RECHECK_SECONDS. */
  readonly recheckMs?: number;
  /** `closed` (default): a connection the re-check cannot confirm for `recheckMs` is closed with 1013. */
  readonly failureMode?: "closed" | "open";
  /** The channel is sharded (Redis Cluster: SSUBSCRIBE). */
  readonly sharded?: boolean;
  readonly now?: () => number;
}

/** Closes a watched connection: `code` and a reason code, as the auth API closes its own (docs/live.md). */
export type CloseLive = (code: number, reason: string) => void;

interface Watched {
  readonly identity: Identity;
  readonly close: CloseLive;
  confirmedAt: number;
  expiry: ReturnType<typeof setTimeout> | null;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The auth API's guard for another service's live connections (WebSocket subscriptions): each
 * watched connection is closed with 4401 when the auth API publishes a revocation that ends its
 * session (the same channel), with 4403 TOKEN_EXPIRED at its token's expiry, and whenever the
 * periodic re-check, or the re-check after the subscriber reconnects, finds it revoked.
 */
export class LiveGuard {
  private readonly watched = new Map<string, Set<Watched>>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly recheckMs: number;
  private readonly now: () => number;

  constructor(private readonly options: LiveGuardOptions) {
    this.recheckMs = options.recheckMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    const { subscriber, sharded } = this.options;
    subscriber.on(sharded ? "smessage" : "message", (channel: string, message: string) => {
      if (channel !== LIVE_CHANNEL) return;
      const event = parseLiveEvent(message);
      if (event?.type !== "revoked") return;
      for (const entry of [...(this.watched.get(event.userId) ?? [])]) {
        if (event.kind === "roles_changed") this.close(entry, 4403, "ROLES_CHANGED");
        else if (endsSession(event, entry.identity.sessionId)) this.close(entry, 4401, event.kind === "user_disabled" ? "ACCOUNT_DISABLED" : "TOKEN_REVOKED");
      }
    });
    await (sharded ? subscriber.ssubscribe!(LIVE_CHANNEL) : subscriber.subscribe!(LIVE_CHANNEL));
    let first = true;
    subscriber.on("ready", () => {
      if (!first) void this.recheck();
      first = false;
    });
    this.timer = setInterval(() => void this.recheck(), this.recheckMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Watches a connection from its verified identity; call the returned function when it closes. */
  watch(identity: Identity, close: CloseLive): () => void {
    const entry: Watched = { identity, close, confirmedAt: this.now(), expiry: null };
    const entries = this.watched.get(identity.userId) ?? new Set();
    this.watched.set(identity.userId, entries);
    entries.add(entry);
    this.armExpiry(entry);
    return () => this.forget(entry);
  }

  /** Reads every watched connection's state (the request's MGET each, sent together) and closes the revoked. */
  async recheck(): Promise<void> {
    const all = [...this.watched.values()].flatMap((entries) => [...entries]);
    const results = await Promise.allSettled(all.map(({ identity }) => this.options.redis.mget(...accessStateKeys(identity.userId, identity.sessionId, identity.jti))));
    const now = this.now();
    results.forEach((result, index) => {
      const entry = all[index]!;
      if (result.status === "fulfilled") {
        const state = parseAccessState(result.value);
        if (isRevoked(state)) this.close(entry, 4401, state.user?.disabled ? "ACCOUNT_DISABLED" : "TOKEN_REVOKED");
        else entry.confirmedAt = now;
      } else if ((this.options.failureMode ?? "closed") === "closed" && now - entry.confirmedAt >= this.recheckMs) {
        this.close(entry, 1013, "STORE_UNAVAILABLE");
      }
    });
  }

  private armExpiry(entry: Watched): void {
    const delay = entry.identity.expiresAt - this.now();
    if (delay <= 0) return this.close(entry, 4403, "TOKEN_EXPIRED");
    entry.expiry = setTimeout(() => this.armExpiry(entry), Math.min(delay, MAX_TIMER_MS));
    entry.expiry.unref?.();
  }

  private forget(entry: Watched): boolean {
    const entries = this.watched.get(entry.identity.userId);
    if (!entries?.delete(entry)) return false;
    if (entries.size === 0) this.watched.delete(entry.identity.userId);
    if (entry.expiry) clearTimeout(entry.expiry);
    return true;
  }

  private close(entry: Watched, code: number, reason: string): void {
    if (this.forget(entry)) entry.close(code, reason);
  }
}
