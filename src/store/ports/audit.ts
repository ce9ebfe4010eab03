/** The audit trail: a global stream and two streams per user. Hot state, in Redis streams. */

/**
 * One audit event as the store keeps it: who (`actorId`) did what (`type`) about whom (`userId`),
 * from where. Never a secret: the domain builds it from ids, addresses and plain values only.
 */
export interface AuditEntry {
  /** Unique to the event and the same in every stream that holds it (AuditRecord.id is not). */
  readonly eventId: string;
  /** Upper snake case: SIGNED_IN, LOGIN_FAILED, USER_DISABLED, ... */
  readonly type: string;
  /** Who did it; null when the user themself or the system did. */
  readonly actorId: string | null;
  /** Whom it is about; null when nobody is known (a failed login for an unknown email). */
  readonly userId: string | null;
  readonly sessionId: string | null;
  readonly clientIp: string | null;
  readonly userAgent: string | null;
  readonly device: string | null;
  /** Plain values only (ids, flags, counts, role names). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** An entry read back: its place in the stream and when the store wrote it. */
export interface AuditRecord extends AuditEntry {
  /** The stream entry id, "<ms>-<seq>": ordered, unique within its stream, but not across streams. */
  readonly id: string;
  /** Epoch ms, from the store's clock. */
  readonly at: number;
}

/**
 * Which of a user's two streams an event about them goes to. "history": what the user, an admin or
 * the system did. "attempts": what anyone can cause by naming the user, without their credentials
 * (a failed sign-in, a password reset request). Each is trimmed to maxPerUser on its own, so a flood
 * of attempts cannot push the user's history out; they are read together, and a user's ids are
 * unique across both, so one id orders a page of the two.
 */
export type UserAuditStream = "history" | "attempts";

/** How much of the trail is kept; trimming is approximate, so a write stays O(1). */
export interface AuditRetention {
  readonly maxAgeMs: number;
  /** Per user's stream: their history, and their attempts, each. */
  readonly maxPerUser: number;
  /** The global stream. */
  readonly maxGlobal: number;
}

export interface AuditRead {
  /** The user's own streams (history and attempts, merged); null: the global stream. */
  readonly userId: string | null;
  /** Only entries older than this id (a page's last); null: from the newest. */
  readonly before: string | null;
  /** Epoch ms bounds on `at`, inclusive; null: unbounded. */
  readonly from: number | null;
  readonly to: number | null;
  readonly count: number;
}

/**
 * A reader that follows the global audit stream from the moment it was opened: each `read` hands
 * over what was appended since the last one, oldest first, so nothing is skipped or repeated while
 * it stays open. Redis: XREAD BLOCK on a connection of its own; memory: a wait on the next append.
 */
export interface AuditTail {
  /**
   * Entries appended after the last one read (at first: after the tail was opened), oldest first,
   * at most `count`. With none yet, waits up to `blockMs` for one, then resolves empty. Rejects when
   * the store cannot answer; the position is kept, so the next read goes on from it.
   */
  read(blockMs: number, count: number): Promise<AuditRecord[]>;
  /** Frees the tail's connection; a pending read resolves empty at once. */
  close(): void;
}

/** The order of audit stream ids, "<ms>-<seq>": by time, then sequence. */
export function compareAuditIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs !== bMs ? aMs - bMs : aSeq - bSeq;
}

/** Up to `count` of two newest-first lists of a user's streams, newest first (their ids never coincide). */
export function newestFirst(a: readonly AuditRecord[], b: readonly AuditRecord[], count: number): AuditRecord[] {
  const merged: AuditRecord[] = [];
  let i = 0;
  let j = 0;
  while (merged.length < count && (i < a.length || j < b.length)) {
    if (j >= b.length || (i < a.length && compareAuditIds(a[i]!.id, b[j]!.id) > 0)) merged.push(a[i++]!);
    else merged.push(b[j++]!);
  }
  return merged;
}

/** Hot state, in Redis whatever holds the directory (README.md). */
export interface AuditStore {
  /**
   * Appends one audit event to the global stream and, when it names a user, to that user's
   * `userStream` (on the user's slot), trimming each approximately to `retention`. Two steps, one
   * per slot.
   */
  appendAuditEvent(entry: AuditEntry, retention: AuditRetention, userStream?: UserAuditStream): Promise<void>;
  /** Up to `count` entries, newest first: of the global stream, or of a user's two merged. */
  readAuditEvents(read: AuditRead): Promise<AuditRecord[]>;
  /**
   * Opens a tail of the global stream, positioned after its newest entry: the live `auditEvents`
   * subscription's source. Redis opens one connection for it (blocking reads must not hold up the
   * shared one); resolves once that answers. The caller closes it.
   */
  openAuditTail(): Promise<AuditTail>;
}
