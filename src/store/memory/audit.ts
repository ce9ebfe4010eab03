import { compareAuditIds, newestFirst, type AuditEntry, type AuditRead, type AuditRecord, type AuditRetention, type AuditStore, type AuditTail, type UserAuditStream } from "../store";
import { GLOBAL_AUDIT, type MemoryCore } from "./core";

/** The audit trail: the global stream and two per user, bounded like the Redis streams. */
export function memoryAudit(core: MemoryCore): AuditStore {
  /**
   * Bounded like the Redis stream, but exactly: at most `max` entries, none older than `maxAgeMs`.
   * The id is above the last this stream made (kept, like Redis, after its entries are trimmed),
   * and above `floor`.
   */
  function appendTo(stream: string | typeof GLOBAL_AUDIT, entry: AuditEntry, max: number, maxAgeMs: number, floor = "0-0"): void {
    const now = core.clock.now();
    const records = core.auditStream(stream)?.records ?? [];
    const made = core.lastMade.get(stream) ?? "0-0";
    const last = compareAuditIds(made, floor) >= 0 ? made : floor;
    const [lastMs = 0, lastSeq = 0] = last.split("-").map(Number);
    const id = now > lastMs ? `${now}-0` : `${lastMs}-${lastSeq + 1}`;
    core.lastMade.set(stream, id);
    records.push({ ...entry, id, at: Number(id.split("-")[0]) });
    let drop = Math.max(0, records.length - max);
    while (drop < records.length && records[drop]!.at < now - maxAgeMs) drop++;
    records.splice(0, drop);
    core.audit.set(stream, { records, expiresAt: now + maxAgeMs });
  }

  function readStream(name: string | typeof GLOBAL_AUDIT, { before, from, to, count }: AuditRead): AuditRecord[] {
    const stream = core.auditStream(name)?.records ?? [];
    const found: AuditRecord[] = [];
    for (let i = stream.length - 1; i >= 0 && found.length < count; i--) {
      const record = stream[i]!;
      if (before !== null && compareAuditIds(record.id, before) >= 0) continue;
      if (to !== null && record.at > to) continue;
      if (from !== null && record.at < from) break;
      found.push(record);
    }
    return found;
  }

  return {
    async appendAuditEvent(entry: AuditEntry, retention: AuditRetention, userStream: UserAuditStream = "history"): Promise<void> {
      appendTo(GLOBAL_AUDIT, entry, retention.maxGlobal, retention.maxAgeMs);
      if (entry.userId !== null) {
        const [stream, other] = userStreams(entry.userId, userStream);
        // Above the other stream's last id too, as on Redis: a user's ids never coincide.
        appendTo(stream, entry, retention.maxPerUser, retention.maxAgeMs, core.lastMade.get(other));
      }
      for (const tail of core.auditTails) tail.appended();
    },

    async openAuditTail(): Promise<AuditTail> {
      const global = () => core.auditStream(GLOBAL_AUDIT)?.records ?? [];
      const tail = new MemoryAuditTail(global, global().at(-1)?.id ?? "0-0", () => core.auditTails.delete(tail));
      core.auditTails.add(tail);
      return tail;
    },

    async readAuditEvents(read: AuditRead): Promise<AuditRecord[]> {
      if (read.userId === null) return readStream(GLOBAL_AUDIT, read);
      const [history, attempts] = userStreams(read.userId, "history");
      return newestFirst(readStream(history, read), readStream(attempts, read), read.count);
    },
  };
}

/** A user's stream for `stream` events, then their other one: the history under the user's id. */
function userStreams(userId: string, stream: UserAuditStream): [string, string] {
  const history = userId;
  const attempts = `attempts:${userId}`;
  return stream === "history" ? [history, attempts] : [attempts, history];
}

/** The embedded store's audit tail: a position in the global stream, and a wait for its next append. */
class MemoryAuditTail implements AuditTail {
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly records: () => readonly AuditRecord[],
    private last: string,
    private readonly onClose: () => void,
  ) {}

  async read(blockMs: number, count: number): Promise<AuditRecord[]> {
    if (this.newer().length === 0 && blockMs > 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.wake?.(), blockMs);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
    if (this.closed) return [];
    const found = this.newer().slice(0, count);
    if (found.length > 0) this.last = found.at(-1)!.id;
    return found;
  }

  /** Called by the store after each append to the global stream. */
  appended(): void {
    this.wake?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    this.wake?.();
  }

  /** The entries after the position, oldest first: walked back from the newest, so a read costs what it returns. */
  private newer(): AuditRecord[] {
    const records = this.records();
    let start = records.length;
    while (start > 0 && compareAuditIds(records[start - 1]!.id, this.last) > 0) start--;
    return records.slice(start);
  }
}
