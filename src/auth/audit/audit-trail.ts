import { badInput } from "../../errors";
import type { AuditEntry, AuditRecord, AuditRetention, AuditStore, UserAuditStream } from "../../store/store";
import type { AuditSink } from "./audit";
import { decodeEventCursor, encodeEventCursor } from "../shared/cursors";

/** The page size of securityEvents and auditEvents when none is asked for, and the most one page may hold. */
export const EVENTS_PAGE_DEFAULT = 20;
export const EVENTS_PAGE_MAX = 100;
/** Filters are applied while reading: one page reads at most this many entries, in chunks of SCAN_CHUNK. */
export const MAX_SCANNED = 5000;
const SCAN_CHUNK = 250;
const MAX_TYPES = 50;
const TYPE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** What auditEvents narrows the global trail to; every field optional, all of them must match. */
export interface AuditFilter {
  /** The user the event is about. */
  readonly userId?: string | null;
  readonly actorId?: string | null;
  readonly types?: readonly string[] | null;
  /** Epoch ms, inclusive. */
  readonly from?: number | null;
  readonly to?: number | null;
}

export interface EventsPage {
  readonly edges: readonly { readonly cursor: string; readonly event: AuditRecord }[];
  readonly hasNextPage: boolean;
  /** Where the next page starts; null on an empty, last page. */
  readonly endCursor: string | null;
}

/**
 * The durable audit trail, read and written: Audit appends to it; users read their own stream,
 * admins the global one. Newest first, paged by opaque cursors that stay valid as events arrive.
 */
export class AuditTrail implements AuditSink {
  constructor(
    private readonly store: Pick<AuditStore, "appendAuditEvent" | "readAuditEvents">,
    private readonly retention: AuditRetention,
  ) {}

  append(entry: AuditEntry, userStream: UserAuditStream): Promise<void> {
    return this.store.appendAuditEvent(entry, this.retention, userStream);
  }

  /** The user's own events, newest first. */
  forUser(userId: string, first: number, after: string | null): Promise<EventsPage> {
    return this.page(userId, {}, first, after);
  }

  /**
   * Every event, filtered. With `userId`, the user's own two streams are read (together they hold
   * exactly the events about them); otherwise the global one. A page reads at most MAX_SCANNED
   * entries: when the filters match fewer, it comes back short, with hasNextPage and an endCursor
   * to go on from.
   */
  search(filter: AuditFilter, first: number, after: string | null): Promise<EventsPage> {
    checkAuditFilter(filter);
    return this.page(filter.userId ?? null, filter, first, after);
  }

  private async page(stream: string | null, filter: AuditFilter, first: number, after: string | null): Promise<EventsPage> {
    if (!Number.isInteger(first) || first < 1 || first > EVENTS_PAGE_MAX) {
      throw badInput(`first must be from 1 to ${EVENTS_PAGE_MAX}, got ${first}`);
    }
    const matches = auditFilterMatcher(filter);
    const filtered = filter.actorId != null || (filter.types != null && filter.types.length > 0);
    const found: AuditRecord[] = [];
    let before = after === null ? null : decodeEventCursor(after);
    let scanned = 0;
    let exhausted = false;
    while (found.length <= first && !exhausted && scanned < MAX_SCANNED) {
      const count = filtered ? SCAN_CHUNK : first + 1 - found.length;
      const chunk = await this.store.readAuditEvents({ userId: stream, before, from: filter.from ?? null, to: filter.to ?? null, count });
      exhausted = chunk.length < count;
      for (const event of chunk) {
        scanned++;
        before = event.id;
        if (matches(event)) found.push(event);
        if (found.length > first) break;
      }
    }
    const edges = found.slice(0, first).map((event) => ({ cursor: encodeEventCursor(event.id), event }));
    const hasNextPage = found.length > first || (!exhausted && scanned >= MAX_SCANNED);
    const resumeAt = found.length > first ? edges.at(-1)?.cursor : hasNextPage && before !== null ? encodeEventCursor(before) : edges.at(-1)?.cursor;
    return { edges, hasNextPage, endCursor: resumeAt ?? null };
  }
}

/** Refuses, with BAD_USER_INPUT, a filter that is not one: the query and the subscription alike. */
export function checkAuditFilter(filter: AuditFilter): void {
  if (filter.types && (filter.types.length > MAX_TYPES || !filter.types.every((type) => TYPE.test(type)))) {
    throw badInput(`types must be at most ${MAX_TYPES} event types in upper snake case, like SIGNED_IN`);
  }
  if (filter.from != null && filter.to != null && filter.from > filter.to) throw badInput("from must not be after to");
}

/**
 * Whether an event passes the filter: about `userId` (its subject), by `actorId`, of one of
 * `types`, at or between `from` and `to`. One rule for the query and the live subscription.
 */
export function auditFilterMatcher({ userId, actorId, types, from, to }: AuditFilter): (event: AuditRecord) => boolean {
  const wanted = types && types.length > 0 ? new Set(types) : null;
  return (event) =>
    (userId == null || event.userId === userId) &&
    (actorId == null || event.actorId === actorId) &&
    (wanted === null || wanted.has(event.type)) &&
    (from == null || event.at >= from) &&
    (to == null || event.at <= to);
}
