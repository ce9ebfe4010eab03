/**
 * Back-channel logout (src/auth/oauth/backchannel-logout.ts): which OAuth clients hold a grant in
 * which session of this API (the links), and the durable queue of logout tokens still to deliver.
 * Hot state, in Redis whatever holds the directory; not part of Store: the composition root builds
 * it beside the store, over the same connection (src/store/redis/backchannel-logout.ts) or in memory.
 *
 * The one atomic step that matters is `enqueueBackchannelLogouts`: it removes the links of the
 * ended sessions and queues one delivery for each, together, so a link is delivered once however
 * many callers (the revocation event, the sweep, another instance) reach it.
 */

/** Which of a user's links an end reaches: one session, every one but one, all, or one client's. */
export type BackchannelScope =
  | { readonly kind: "session"; readonly sessionId: string }
  | { readonly kind: "others"; readonly keepSessionId: string }
  | { readonly kind: "all" }
  | { readonly kind: "client"; readonly clientId: string };

/** A client signed in through a session of this API: it gets a logout token when that session ends. */
export interface BackchannelLink {
  readonly sessionId: string;
  readonly clientId: string;
  /** Epoch ms of the last token issued to the client in the session (code exchange or refresh). */
  readonly linkedAt: number;
}

/** One logout token to deliver: to `clientId`, for `sessionId` of `userId`. */
export interface BackchannelDelivery {
  readonly id: string;
  readonly userId: string;
  readonly sessionId: string;
  readonly clientId: string;
  /** Epoch ms it was queued: the delivery is given up once it is older than the maximum age. */
  readonly queuedAt: number;
  /** Attempts made, this one included once claimed. */
  readonly attempts: number;
}

export interface BackchannelBounds {
  /** Links older than this (epoch ms) are stale: their grant's refresh tokens have expired. */
  readonly staleBefore: number;
  /** Only links made before this (epoch ms): a session signed in after the end is not reached by it. */
  readonly linkedBefore: number;
  readonly maxPerClient: number;
  readonly maxTotal: number;
}

export interface EnqueueResult {
  readonly queued: readonly BackchannelDelivery[];
  /** Links dropped because the queue (for their client, or in total) was full. */
  readonly dropped: number;
}

export interface BackchannelLogoutStore {
  /** Records (or refreshes) that `clientId` holds a grant in the session; kept for `ttlMs`. */
  linkBackchannelSession(userId: string, sessionId: string, clientId: string, now: number, ttlMs: number): Promise<void>;
  /** The user's live links (for the sweep). */
  backchannelLinks(userId: string, staleBefore: number): Promise<BackchannelLink[]>;
  /** Users with links, `limit` from rank `offset` (the sweep walks them in turns). */
  backchannelUsers(offset: number, limit: number): Promise<string[]>;
  /** Removes the links `scope` reaches and queues one delivery each, in one atomic step. */
  enqueueBackchannelLogouts(userId: string, scope: BackchannelScope, now: number, bounds: BackchannelBounds): Promise<EnqueueResult>;
  /**
   * The next due delivery, leased to the caller until `now + leaseMs` (counted as an attempt); null
   * when none is due. Another instance claims it again once the lease runs out (at-least-once).
   */
  claimBackchannelDelivery(now: number, leaseMs: number): Promise<BackchannelDelivery | null>;
  /** Delivered or given up: it leaves the queue. */
  finishBackchannelDelivery(id: string): Promise<void>;
  /** Failed: due again at `dueAt`. */
  retryBackchannelDelivery(id: string, dueAt: number): Promise<void>;
  /** How many deliveries are queued, in total. */
  backchannelQueueSize(): Promise<number>;
}
