import type { BackchannelBounds, BackchannelDelivery, BackchannelLink, BackchannelLogoutStore, BackchannelScope, EnqueueResult } from "../ports/backchannel-logout";

/** Whether an end in `scope` reaches the link. */
export function scopeReaches(scope: BackchannelScope, link: Pick<BackchannelLink, "sessionId" | "clientId">): boolean {
  switch (scope.kind) {
    case "session":
      return link.sessionId === scope.sessionId;
    case "others":
      return link.sessionId !== scope.keepSessionId;
    case "all":
      return true;
    case "client":
      return link.clientId === scope.clientId;
  }
}

/**
 * The embedded store's links and queue: one process, so each method is one synchronous step, as
 * atomic as the Redis scripts; lost on restart, like everything else the embedded store holds.
 * Stale links (older than the link lifetime) go when their user's next end reaches them.
 */
export class MemoryBackchannelLogoutStore implements BackchannelLogoutStore {
  /** userId → "sessionId clientId" → link. */
  private readonly links = new Map<string, Map<string, BackchannelLink>>();
  private readonly items = new Map<string, BackchannelDelivery>();
  private readonly due = new Map<string, number>();
  private readonly perClient = new Map<string, number>();
  private sequence = 0;

  async linkBackchannelSession(userId: string, sessionId: string, clientId: string, now: number): Promise<void> {
    const links = this.links.get(userId) ?? new Map<string, BackchannelLink>();
    links.set(`${sessionId} ${clientId}`, { sessionId, clientId, linkedAt: now });
    this.links.set(userId, links);
  }

  async backchannelLinks(userId: string, staleBefore: number): Promise<BackchannelLink[]> {
    return [...(this.links.get(userId)?.values() ?? [])].filter((link) => link.linkedAt >= staleBefore);
  }

  async backchannelUsers(offset: number, limit: number): Promise<string[]> {
    return [...this.links.keys()].sort().slice(offset, offset + limit);
  }

  async enqueueBackchannelLogouts(userId: string, scope: BackchannelScope, now: number, bounds: BackchannelBounds): Promise<EnqueueResult> {
    const links = this.links.get(userId);
    if (!links) return { queued: [], dropped: 0 };
    const queued: BackchannelDelivery[] = [];
    let dropped = 0;
    for (const [member, link] of links) {
      if (link.linkedAt < bounds.staleBefore) {
        links.delete(member);
        continue;
      }
      if (link.linkedAt > bounds.linkedBefore || !scopeReaches(scope, link)) continue;
      links.delete(member);
      const count = this.perClient.get(link.clientId) ?? 0;
      if (count >= bounds.maxPerClient || this.items.size >= bounds.maxTotal) {
        dropped++;
        continue;
      }
      const delivery: BackchannelDelivery = { id: String(++this.sequence), userId, sessionId: link.sessionId, clientId: link.clientId, queuedAt: now, attempts: 0 };
      this.items.set(delivery.id, delivery);
      this.due.set(delivery.id, now);
      this.perClient.set(link.clientId, count + 1);
      queued.push(delivery);
    }
    if (links.size === 0) this.links.delete(userId);
    return { queued, dropped };
  }

  async claimBackchannelDelivery(now: number, leaseMs: number): Promise<BackchannelDelivery | null> {
    let next: string | null = null;
    let nextAt = Infinity;
    for (const [id, at] of this.due) {
      if (at <= now && at < nextAt) [next, nextAt] = [id, at];
    }
    if (next === null) return null;
    const claimed = { ...this.items.get(next)!, attempts: this.items.get(next)!.attempts + 1 };
    this.items.set(next, claimed);
    this.due.set(next, now + leaseMs);
    return claimed;
  }

  async finishBackchannelDelivery(id: string): Promise<void> {
    const item = this.items.get(id);
    if (!item) return;
    this.items.delete(id);
    this.due.delete(id);
    const count = (this.perClient.get(item.clientId) ?? 1) - 1;
    if (count > 0) this.perClient.set(item.clientId, count);
    else this.perClient.delete(item.clientId);
  }

  async retryBackchannelDelivery(id: string, dueAt: number): Promise<void> {
    if (this.due.has(id)) this.due.set(id, dueAt);
  }

  async backchannelQueueSize(): Promise<number> {
    return this.items.size;
  }
}
