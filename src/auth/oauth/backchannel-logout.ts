import { isRevoked, type RevocationEvent } from "@revocable-auth/verifier/internal";
import type { Logger } from "pino";
import type { Clock } from "../../clock";
import type { BackchannelDelivery, BackchannelLogoutStore, BackchannelScope } from "../../store/ports/backchannel-logout";
import type { OAuthClientStore, SessionStore } from "../../store/store";
import type { Audit } from "../audit/audit";
import type { LogoutTokens } from "./logout-token";

/** The queue's bounds: a client that never answers cannot fill Redis, nor can all of them together. */
export const MAX_QUEUED_PER_CLIENT = 10_000;
export const MAX_QUEUED_TOTAL = 100_000;
/** Deliveries one instance has in flight at once. */
const CONCURRENCY = 8;
/** How often an instance looks for due deliveries (its own enqueues wake it at once). */
const POLL_MS = 500;
/** How many users with links one turn of the sweep checks. */
const SWEEP_USERS = 200;
/** The longest wait between two attempts. */
const MAX_RETRY_DELAY_MS = 10 * 60_000;

export interface BackchannelSettings {
  /** OAUTH_BACKCHANNEL_TIMEOUT_MS: one POST to a relying party, at most. */
  readonly timeoutMs: number;
  /** OAUTH_BACKCHANNEL_RETRY_MS: the first wait after a failed attempt; doubled each time, with jitter. */
  readonly retryMs: number;
  /** OAUTH_BACKCHANNEL_MAX_ATTEMPTS: then the delivery is given up. */
  readonly maxAttempts: number;
  /** OAUTH_BACKCHANNEL_MAX_AGE_SECONDS, in ms: a delivery older than this is given up. */
  readonly maxAgeMs: number;
  /** OAUTH_BACKCHANNEL_SWEEP_SECONDS, in ms: how often the sweep takes a turn. */
  readonly sweepMs: number;
  /** How long a link lives: the grant's (REFRESH_TOKEN_TTL); each token issued renews it. */
  readonly linkTtlMs: number;
}

export interface BackchannelDeps {
  readonly queue: BackchannelLogoutStore;
  readonly store: Pick<OAuthClientStore, "getOAuthClient"> & Pick<SessionStore, "accessState">;
  readonly tokens: Pick<LogoutTokens, "sign">;
  readonly audit: Audit | null;
  readonly logger: Logger;
  readonly clock: Clock;
}

export type DeliveryOutcome = "delivered" | "failed" | "given_up";

/** Which of the user's links a revocation reaches; null for one that ends no session (roles changed). */
export function scopeOf(event: RevocationEvent): BackchannelScope | null {
  if (event.kind === "roles_changed") return null;
  if (event.sessionId !== undefined) return { kind: "session", sessionId: event.sessionId };
  if (event.keepSessionId !== undefined) return { kind: "others", keepSessionId: event.keepSessionId };
  return { kind: "all" };
}

/**
 * OpenID Connect Back-Channel Logout 1.0, as the provider: when a session here ends, every client
 * with a backchannel_logout_uri that was issued tokens in it gets a logout token.
 *
 * Durable at each step. A link (client, session) is written before the client's tokens leave
 * (awaited at issuance). When a session ends, the revocation event moves its links into the queue
 * in one atomic step; if this instance dies between the session's end and that step, the event is
 * lost but the link is not: the sweep finds links whose session has ended and moves them then (the
 * same atomic step, so a link is queued once). The queue lives in Redis: a delivery is leased to
 * one worker at a time, and a lease that runs out (a worker that died) is claimed again, so a
 * relying party gets each logout at least once, across restarts and instances.
 */
export class BackchannelLogouts {
  private inFlight = 0;
  private readonly running = new Set<Promise<void>>();
  private poller: NodeJS.Timeout | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private sweepOffset = 0;
  private stopped = false;
  private pumping = false;
  private pumpAgain = false;

  constructor(
    private readonly deps: BackchannelDeps,
    private readonly settings: BackchannelSettings,
  ) {}

  start(): void {
    this.poller = setInterval(() => this.pump(), POLL_MS);
    this.sweeper = setInterval(() => void this.sweep(), this.settings.sweepMs);
    this.poller.unref();
    this.sweeper.unref();
    this.pump();
  }

  /** Stops claiming; waits for the deliveries in flight (each bounded by the timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.allSettled([...this.running]);
  }

  /** Tokens were issued to `clientId` in this session: it is told when the session ends (if it listens). */
  async linked(userId: string, sessionId: string, clientId: string): Promise<void> {
    const client = await this.deps.store.getOAuthClient(clientId);
    if (!client?.backchannelLogoutUri) return;
    await this.deps.queue.linkBackchannelSession(userId, sessionId, clientId, this.deps.clock.now(), this.settings.linkTtlMs);
  }

  /** The revocation hook: every ended session's links are queued. A failure is left to the sweep. */
  revoked(event: RevocationEvent): void {
    const scope = scopeOf(event);
    if (scope) void this.enqueue(event.userId, scope, event.at).catch((error: Error) => this.warn(error, "could not queue back-channel logouts: the sweep queues them later"));
  }

  /** A grant ended (revokeAppAccess, the client deleted, a replay): the client is told, for each session it was in. */
  async grantEnded(userId: string, clientId: string): Promise<void> {
    await this.enqueue(userId, { kind: "client", clientId }, this.deps.clock.now());
  }

  private async enqueue(userId: string, scope: BackchannelScope, endedAt: number): Promise<void> {
    const now = this.deps.clock.now();
    const { queued, dropped } = await this.deps.queue.enqueueBackchannelLogouts(userId, scope, now, {
      staleBefore: now - this.settings.linkTtlMs,
      linkedBefore: endedAt,
      maxPerClient: MAX_QUEUED_PER_CLIENT,
      maxTotal: MAX_QUEUED_TOTAL,
    });
    if (dropped > 0) this.deps.logger.warn({ userId, dropped }, "back-channel logout queue full: logouts dropped");
    if (queued.length > 0) this.pump();
  }

  /** Claims due deliveries up to the concurrency bound, each delivered on its own. */
  private pump(): void {
    if (this.stopped) return;
    // A wake while a claim loop runs may come after its last empty claim: it runs once more.
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.pumpAgain = false;
    void this.claimUpToLimit()
      .catch((error: Error) => this.warn(error, "could not claim back-channel logouts"))
      .finally(() => {
        this.pumping = false;
        if (this.pumpAgain) this.pump();
      });
  }

  private async claimUpToLimit(): Promise<void> {
    while (!this.stopped && this.inFlight < CONCURRENCY) {
      const delivery = await this.deps.queue.claimBackchannelDelivery(this.deps.clock.now(), this.settings.timeoutMs * 2 + 1000);
      if (!delivery) return;
      this.inFlight++;
      const run = this.deliver(delivery)
        .catch((error: Error) => this.warn(error, "back-channel logout delivery failed in the store"))
        .finally(() => {
          this.inFlight--;
          this.running.delete(run);
          this.pump();
        });
      this.running.add(run);
    }
  }

  private async deliver(delivery: BackchannelDelivery): Promise<void> {
    const { queue, store, tokens, clock } = this.deps;
    const client = await store.getOAuthClient(delivery.clientId);
    if (!client?.backchannelLogoutUri) {
      await queue.finishBackchannelDelivery(delivery.id);
      return this.audit(delivery, "given_up", { cause: "client_gone" });
    }
    const token = await tokens.sign(delivery.clientId, delivery.userId, delivery.sessionId, clock.now());
    const failure = await post(client.backchannelLogoutUri, token, this.settings.timeoutMs);
    if (failure === null) {
      await queue.finishBackchannelDelivery(delivery.id);
      return this.audit(delivery, "delivered", { latencyMs: clock.now() - delivery.queuedAt });
    }
    const next = clock.now() + retryDelay(this.settings.retryMs, delivery.attempts);
    if (delivery.attempts >= this.settings.maxAttempts || next > delivery.queuedAt + this.settings.maxAgeMs) {
      await queue.finishBackchannelDelivery(delivery.id);
      return this.audit(delivery, "given_up", { cause: failure });
    }
    await queue.retryBackchannelDelivery(delivery.id, next);
    this.audit(delivery, "failed", { cause: failure });
  }

  /**
   * The durable path: links whose session has ended (an end whose event this or another instance
   * never handled, having died first) are queued now. A few users a turn, in rotation.
   */
  async sweep(): Promise<void> {
    if (this.stopped) return;
    try {
      const users = await this.deps.queue.backchannelUsers(this.sweepOffset, SWEEP_USERS);
      this.sweepOffset = users.length < SWEEP_USERS ? 0 : this.sweepOffset + users.length;
      const staleBefore = this.deps.clock.now() - this.settings.linkTtlMs;
      for (const userId of users) {
        const sessions = new Set((await this.deps.queue.backchannelLinks(userId, staleBefore)).map((link) => link.sessionId));
        for (const sessionId of sessions) {
          if (isRevoked(await this.deps.store.accessState(userId, sessionId, ""))) await this.enqueue(userId, { kind: "session", sessionId }, this.deps.clock.now());
        }
      }
    } catch (error) {
      this.warn(error as Error, "back-channel logout sweep failed: the next turn retries");
    }
  }

  private audit(delivery: BackchannelDelivery, outcome: DeliveryOutcome, details: Record<string, unknown>): void {
    this.deps.audit?.backchannelLogout(delivery.userId, delivery.sessionId, delivery.clientId, outcome, { attempt: delivery.attempts, ...details });
  }

  private warn(error: Error, message: string): void {
    this.deps.logger.warn({ err: { name: error.name, message: error.message } }, message);
  }
}

/** Exponential backoff with jitter: `base · 2^(attempt-1)`, capped, then between half and all of it. */
export function retryDelay(baseMs: number, attempt: number, random = Math.random()): number {
  const ceiling = Math.min(baseMs * 2 ** Math.min(attempt - 1, 30), MAX_RETRY_DELAY_MS);
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

/**
 * One POST of the logout token (§2.5), form-encoded, bounded by the timeout, no redirect followed.
 * Null when the relying party answered 200 or 204; otherwise why not (a status, or the error's name):
 * the body is never read or kept.
 */
async function post(uri: string, token: string, timeoutMs: number): Promise<string | null> {
  try {
    const response = await fetch(uri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ logout_token: token }),
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.status === 200 || response.status === 204 ? null : `status_${response.status}`;
  } catch (error) {
    return (error as Error).name === "TimeoutError" ? "timeout" : "unreachable";
  }
}
