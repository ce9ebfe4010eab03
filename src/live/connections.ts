import { endsSession, isRevoked, type RevocationEvent, type UserLiveEvent } from "@revocable-auth/verifier/internal";
import { GraphQLError } from "graphql";
import type { Logger } from "pino";
import type { AuditFilter } from "../auth/audit/audit-trail";
import type { Identity } from "../auth/tokens/authenticator";
import type { Clock } from "../clock";
import type { FailureMode } from "../auth/tokens/authenticator";
import type { Metrics } from "../metrics";
import type { AccessState, SessionStore } from "../store/store";
import type { AuditFeed, AuditFeedItem } from "./audit-feed";
import { eventQueue } from "./event-queue";
import { identityNotice, noticeOf, type SessionEventRecord } from "./session-events";

/**
 * The close codes (docs/live.md). graphql-ws's client retries after 4403 (calling
 * connectionParams again, so it can refresh first), 1001 and 1013, and stops after 4401 and 1008.
 */
export const CLOSE = {
  /** Signed out for good: revoked token, ended session, disabled user. */
  REVOKED: 4401,
  /** Authenticate again: no, bad or expired token, or roles changed. */
  REAUTHENTICATE: 4403,
  /** The store could not confirm the connection in time (REVOCATION_FAILURE_MODE=closed). */
  TRY_AGAIN_LATER: 1013,
  GOING_AWAY: 1001,
  /** LIVE_MAX_CONNECTIONS_PER_USER: the user's oldest connection made room. */
  POLICY: 1008,
} as const;

/** One round trip reads this many connections' states. */
const RECHECK_BATCH = 500;
/** setTimeout's largest delay; a longer-lived token re-arms its timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The transport's side of a connection. */
export interface LiveSocket {
  close(code: number, reason: string): void;
}

/** What a connection's subscriptions come from, and how many it may hold. */
export interface LiveSources {
  /** The source of every connection's auditEvents subscriptions. */
  readonly auditFeed: AuditFeed;
  /** LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION. */
  readonly maxSubscriptions: number;
}

/**
 * An authenticated WebSocket: its identity, and the live subscriptions it holds. The connection
 * owns every subscription it hands out, so none outlives it whatever the protocol layer's
 * bookkeeping of operation ids says: the limit is counted here, and `end` ends them all.
 */
export class LiveConnection {
  lastConfirmedAt: number;
  expiry: NodeJS.Timeout | null = null;
  readonly listeners = new Set<(event: SessionEventRecord) => void>();
  private readonly subscriptions = new Set<AsyncIterableIterator<unknown>>();
  /** auditEvents subscriptions waiting for the tail: they hold a place too. */
  private opening = 0;
  /** Made for the first auditEvents subscription only: an idle socket costs no more. */
  private closing: AbortController | null = null;
  private ended = false;

  constructor(
    readonly identity: Identity,
    readonly socket: LiveSocket,
    openedAt: number,
    private readonly sources: LiveSources,
  ) {
    this.lastConfirmedAt = openedAt;
  }

  /** The `auditEvents` stream of one subscription: this instance's one tail of the trail, filtered. */
  async auditEvents(filter: AuditFilter): Promise<AsyncIterableIterator<AuditFeedItem>> {
    this.admit();
    this.opening++;
    try {
      this.closing ??= new AbortController();
      return this.own(await this.sources.auditFeed.subscribe(filter, this.closing.signal));
    } finally {
      this.opening--;
    }
  }

  /** The `sessionEvents` stream of one subscription on this connection. */
  sessionEvents(): AsyncIterableIterator<SessionEventRecord> {
    this.admit();
    const queue = eventQueue<SessionEventRecord>(() => this.listeners.delete(queue.push));
    this.listeners.add(queue.push);
    return this.own(queue.iterator);
  }

  notify(event: SessionEventRecord): void {
    for (const listener of this.listeners) listener(event);
  }

  /** The socket closed, or is being closed: every subscription ends, and none starts. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.closing?.abort();
    for (const subscription of [...this.subscriptions]) void subscription.return!();
    this.listeners.clear();
  }

  private admit(): void {
    if (this.ended) throw new GraphQLError("This connection is closed");
    const max = this.sources.maxSubscriptions;
    if (this.subscriptions.size + this.opening >= max) {
      throw new GraphQLError(`At most ${max} subscriptions may run at once on one connection (LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION)`);
    }
  }

  /** Registers a subscription until it ends: by its client, its source, or this connection's end. */
  private own<T>(iterator: AsyncIterableIterator<T>): AsyncIterableIterator<T> {
    const release = () => this.subscriptions.delete(owned);
    const owned: AsyncIterableIterator<T> = {
      next: () =>
        iterator.next().then((result) => {
          if (result.done) release();
          return result;
        }),
      return: (value?: unknown) => {
        release();
        return iterator.return ? iterator.return(value) : Promise.resolve({ value: undefined, done: true });
      },
      throw: (error?: unknown) => {
        release();
        return iterator.throw ? iterator.throw(error) : Promise.reject(error);
      },
      [Symbol.asyncIterator]: () => owned,
    };
    this.subscriptions.add(owned);
    // Ended while its source opened (the socket closed meanwhile): it ends now, not with nobody to end it.
    if (this.ended) void owned.return!();
    return owned;
  }
}

export interface LiveConnectionsOptions {
  readonly store: Pick<SessionStore, "accessStates">;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly failureMode: FailureMode;
  /** LIVE_RECHECK_SECONDS, in ms. */
  readonly recheckMs: number;
  /** LIVE_MAX_CONNECTIONS_PER_USER, on this instance. */
  readonly maxPerUser: number;
}

/**
 * This instance's authenticated connections, by user. It closes them on the channel's events, at
 * their token's expiry, and when the periodic re-check against the store finds them revoked: the
 * safety net for an event the channel lost.
 */
export class LiveConnections {
  private readonly byUser = new Map<string, Set<LiveConnection>>();
  private recheckTimer: NodeJS.Timeout | null = null;
  private rechecking: Promise<void> | null = null;

  constructor(private readonly options: LiveConnectionsOptions) {}

  start(): void {
    this.recheckTimer = setInterval(() => void this.recheck(), this.options.recheckMs);
    this.recheckTimer.unref();
  }

  get size(): number {
    let count = 0;
    for (const connections of this.byUser.values()) count += connections.size;
    return count;
  }

  add(connection: LiveConnection): void {
    const { userId } = connection.identity;
    const connections = this.byUser.get(userId) ?? new Set();
    this.byUser.set(userId, connections);
    connections.add(connection);
    this.options.metrics.liveConnections.inc();
    this.armExpiry(connection);
    // A Set iterates in insertion order: the first is the oldest.
    while (connections.size > this.options.maxPerUser) {
      this.close(connections.values().next().value!, CLOSE.POLICY, "CONNECTION_LIMIT");
    }
    void this.confirmAdded(connection);
  }

  /**
   * A revocation published after the connection's own check (onConnect) and before it was added
   * here found nothing to close, and the next periodic re-check may be LIVE_RECHECK_SECONDS away.
   * Its state is read once more now that every later event finds it: a revocation is written to
   * the store before it is published, so this read sees any the event missed.
   */
  private async confirmAdded(connection: LiveConnection): Promise<void> {
    let states: AccessState[];
    try {
      states = await this.options.store.accessStates([connection.identity]);
    } catch {
      return; // As for any connection: the periodic re-check confirms it or closes it.
    }
    if (this.byUser.get(connection.identity.userId)?.has(connection)) this.confirm(connection, states[0]!, this.options.clock.now());
  }

  /** The socket closed, by either side; safe to call more than once. */
  remove(connection: LiveConnection): void {
    connection.end();
    const connections = this.byUser.get(connection.identity.userId);
    if (!connections?.delete(connection)) return;
    if (connections.size === 0) this.byUser.delete(connection.identity.userId);
    if (connection.expiry) clearTimeout(connection.expiry);
    this.options.metrics.liveConnections.dec();
  }

  event(event: UserLiveEvent): void {
    const connections = this.byUser.get(event.userId);
    if (!connections) return;
    if (event.type === "signed_in") {
      const notice: SessionEventRecord = { type: "SIGNED_IN", sessionId: event.sessionId, device: event.device, at: event.at, reason: null, ...(event.provider === undefined ? {} : { provider: event.provider }) };
      for (const connection of connections) if (connection.identity.sessionId !== event.sessionId) connection.notify(notice);
      return;
    }
    if (event.type === "identity_changed") {
      const notice = identityNotice(event);
      for (const connection of connections) if (connection.identity.sessionId !== event.sessionId) connection.notify(notice);
      return;
    }
    for (const connection of [...connections]) {
      if (event.kind === "roles_changed") {
        // Told first, then made to reconnect: what it subscribed to was authorised with the old roles.
        connection.notify(noticeOf(event)!);
        setImmediate(() => this.closeForRevocation(connection, CLOSE.REAUTHENTICATE, "ROLES_CHANGED", event));
      } else if (endsSession(event, connection.identity.sessionId)) {
        this.closeForRevocation(connection, CLOSE.REVOKED, closeReason(event), event);
      } else {
        const notice = noticeOf(event);
        if (notice) connection.notify(notice);
      }
    }
  }

  resubscribed(): void {
    void this.recheck();
  }

  /**
   * Reads every connection's state, a batch per round trip, and closes the revoked ones. When the
   * store cannot answer: under `closed`, a connection unconfirmed for a whole re-check period is
   * closed with 1013; under `open`, it stays, and is counted.
   */
  recheck(): Promise<void> {
    this.rechecking ??= this.recheckAll().finally(() => (this.rechecking = null));
    return this.rechecking;
  }

  /** An operation on the connection found its token refused: closed as the re-check would. */
  end(connection: LiveConnection, code: number, reason: string): void {
    this.close(connection, code, reason, { operation: true });
  }

  /** Shutdown: 1001, so clients reconnect to another instance. Never waits on a socket. */
  closeAll(): void {
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    for (const connections of [...this.byUser.values()]) {
      for (const connection of [...connections]) this.close(connection, CLOSE.GOING_AWAY, "SERVER_SHUTTING_DOWN");
    }
  }

  private async recheckAll(): Promise<void> {
    const all = [...this.byUser.values()].flatMap((connections) => [...connections]);
    for (let start = 0; start < all.length; start += RECHECK_BATCH) {
      const batch = all.slice(start, start + RECHECK_BATCH);
      let states: AccessState[];
      try {
        states = await this.options.store.accessStates(batch.map(({ identity }) => identity));
      } catch {
        this.unconfirmed(batch);
        continue;
      }
      const now = this.options.clock.now();
      batch.forEach((connection, index) => this.confirm(connection, states[index]!, now));
    }
  }

  private confirm(connection: LiveConnection, state: AccessState, now: number): void {
    const { identity } = connection;
    if (isRevoked(state)) {
      this.close(connection, CLOSE.REVOKED, state.user?.disabled ? "ACCOUNT_DISABLED" : "TOKEN_REVOKED", { recheck: true });
    } else if (!sameRoles(state.user!.roles, identity.roles)) {
      // Also for a connection accepted on its token alone (REVOCATION_FAILURE_MODE=open, store
      // down): its roles are the token's, which the store now answers for.
      this.close(connection, CLOSE.REAUTHENTICATE, "ROLES_CHANGED", { recheck: true });
    } else {
      connection.lastConfirmedAt = now;
    }
  }

  private unconfirmed(batch: LiveConnection[]): void {
    const now = this.options.clock.now();
    for (const connection of batch) {
      if (this.options.failureMode === "open") {
        this.options.metrics.liveUnconfirmed.inc();
      } else if (now - connection.lastConfirmedAt >= this.options.recheckMs) {
        this.close(connection, CLOSE.TRY_AGAIN_LATER, "STORE_UNAVAILABLE");
      }
    }
  }

  private armExpiry(connection: LiveConnection): void {
    const delay = connection.identity.expiresAt - this.options.clock.now();
    if (delay <= 0) return this.close(connection, CLOSE.REAUTHENTICATE, "TOKEN_EXPIRED");
    connection.expiry = setTimeout(() => this.armExpiry(connection), Math.min(delay, MAX_TIMER_MS));
    connection.expiry.unref();
  }

  private closeForRevocation(connection: LiveConnection, code: number, reason: string, event: RevocationEvent): void {
    if (!this.byUser.get(connection.identity.userId)?.has(connection)) return;
    const latencyMs = Math.max(0, this.options.clock.now() - event.at);
    this.options.metrics.liveRevocationLatency.observe(latencyMs / 1000);
    this.close(connection, code, reason, { kind: event.kind, latencyMs });
  }

  /** `revocation`: logged, one line per connection closed for a revocation. */
  private close(connection: LiveConnection, code: number, reason: string, revocation?: Record<string, unknown>): void {
    if (!this.byUser.get(connection.identity.userId)?.has(connection)) return;
    this.remove(connection);
    this.options.metrics.liveClosed.inc({ reason });
    if (revocation) {
      const { userId, sessionId } = connection.identity;
      this.options.logger.info({ userId, sessionId, code, reason, ...revocation }, "live connection closed: revoked");
    }
    connection.socket.close(code, reason);
  }
}

const sameRoles = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((role) => b.includes(role));

/** The close reason of a revocation's 4401: a provider's back-channel logout says SESSION_ENDED (docs/social.md). */
function closeReason(event: RevocationEvent): string {
  if (event.kind === "user_disabled") return "ACCOUNT_DISABLED";
  return event.kind === "provider_logout" ? "SESSION_ENDED" : "TOKEN_REVOKED";
}
