import { keys } from "@revocable-auth/verifier/internal";
import { storeRefused, storeUnavailable } from "../../errors";
import { compareAuditIds, newestFirst, type AuditEntry, type AuditRead, type AuditRecord, type AuditRetention, type AuditStore, type AuditTail, type UserAuditStream } from "../store";
import { connectWithin, createRedisClient, disconnectOnce, type RedisClient } from "./connection";
import { parseJson, type RedisCore } from "./core";

/** The longest an audit tail's XREAD blocks; its connection's command timeout is STORE_TIMEOUT_MS past it. */
export const AUDIT_TAIL_MAX_BLOCK_MS = 10_000;
/** An audit tail's connection may take this long to open (at least STORE_TIMEOUT_MS): a Cluster client first reads the slot map. */
const AUDIT_TAIL_CONNECT_MS = 5_000;

/** The audit trail: the global stream, and each user's two streams on the user's slot. */
export function redisAudit(core: RedisCore): AuditStore {
  return {
    async appendAuditEvent(entry: AuditEntry, retention: AuditRetention, userStream: UserAuditStream = "history"): Promise<void> {
      await core.guard(async () => {
        const fields = auditFields(entry);
        // Two scripts on two slots, sent together: neither waits for the other.
        const ttl = Math.max(1, Math.round(retention.maxAgeMs));
        await Promise.all([
          core.script("appendAuditEvent", [keys.auditAll()], [retention.maxGlobal, ttl, ...fields]),
          entry.userId === null ? null : core.script("appendUserAuditEvent", userStreamKeys(entry.userId, userStream), [retention.maxPerUser, ttl, ...fields]),
        ]);
      });
    },

    readAuditEvents({ userId, before, from, to, count }: AuditRead): Promise<AuditRecord[]> {
      return core.guard(async () => {
        let end = to === null ? "+" : `${to}-${Number.MAX_SAFE_INTEGER}`;
        if (before !== null && (end === "+" || compareAuditIds(before, end) <= 0)) end = `(${before}`;
        const start = from === null ? "-" : `${from}-0`;
        const read = async (key: string, stream: "user" | "global") => {
          const entries = (await core.client.xrevrange(key, end, start, "COUNT", count)) as [string, string[]][];
          return entries.map(([id, fields]) => parseAuditEntry(id, fields, stream));
        };
        if (userId === null) return read(keys.auditAll(), "global");
        // Both on the user's slot, sent together; their ids never coincide (appendUserAuditEvent).
        const [history, attempts] = await Promise.all([read(keys.auditEvents(userId), "user"), read(keys.auditAttempts(userId), "user")]);
        return newestFirst(history, attempts, count);
      });
    },

    async openAuditTail(): Promise<AuditTail> {
      if (core.closed) throw storeUnavailable();
      // A connection of its own: a blocked XREAD would hold up every command queued behind it.
      const client = createRedisClient(core.config, core.timeoutMs, { blockingMs: AUDIT_TAIL_MAX_BLOCK_MS });
      client.on("error", (error: Error) => core.logger.debug({ err: { name: error.name, message: error.message } }, "audit tail connection error"));
      // Until it is a tail, close() finds it here: a connection still opening must not outlive the store.
      core.openingTails.add(client);
      try {
        await connectWithin(client, Math.max(core.timeoutMs, AUDIT_TAIL_CONNECT_MS));
        const [newest] = (await client.xrevrange(keys.auditAll(), "+", "-", "COUNT", 1)) as [string, string[]][];
        const last = newest?.[0] ?? "0-0";
        // One read that does not block, before the tail's first blocking one: a Redis user without
        // XREAD is refused here, where the subscriber and the log are told, not at every read after.
        await client.call("xread", "COUNT", 1, "STREAMS", keys.auditAll(), last);
        const tail = new RedisAuditTail(client, last, () => core.tails.delete(tail));
        core.tails.add(tail);
        return tail;
      } catch (error) {
        disconnectOnce(client);
        // Closed under it: shutting down, nothing to report.
        if (core.closed) throw storeUnavailable();
        const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
        const refused = /NOPERM/.test(message) ? tailAclRule(message) : null;
        core.logger.error({ err: { name, message } }, refused ?? "could not open a tail of the audit trail");
        throw refused ? storeRefused(refused) : storeUnavailable();
      } finally {
        core.openingTails.delete(client);
      }
    },
  };
}

/** What a tail refused by the Redis ACL (NOPERM) needs granted, as the live channel names its own rule. */
function tailAclRule(reply: string): string {
  const stream = keys.auditAll();
  const rule = /'xread' command/.test(reply) ? "+xread" : `~${stream}`;
  const what = rule === "+xread" ? `run XREAD on ${stream}` : `read ${stream}`;
  return `the Redis user may not ${what}, which live auditEvents subscriptions tail: grant it with ACL SETUSER <user> ${rule} (see docs/live.md)`;
}

/**
 * XREAD BLOCK from the last id read, on the tail's own connection: the global stream is one key,
 * so on a Cluster the read goes to the master of its slot, and after a failover ioredis finds the
 * new one. The position survives errors: a read after a reconnect goes on where the last stopped.
 */
class RedisAuditTail implements AuditTail {
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    private last: string,
    private readonly onClose: () => void,
  ) {}

  async read(blockMs: number, count: number): Promise<AuditRecord[]> {
    if (this.closed) return [];
    const block = blockMs > 0 ? ["BLOCK", Math.min(blockMs, AUDIT_TAIL_MAX_BLOCK_MS)] : [];
    let reply: [string, [string, string[]][]][] | null;
    try {
      // Lower case, so ioredis' stream-read transformer applies: under RESP3 the reply comes in RESP2's shape.
      reply = (await this.client.call("xread", "COUNT", count, ...block, "STREAMS", keys.auditAll(), this.last)) as typeof reply;
    } catch (error) {
      if (this.closed) return [];
      throw error;
    }
    if (this.closed || !reply?.[0]) return [];
    const records = reply[0][1].map(([id, fields]) => parseAuditEntry(id, fields, "global"));
    if (records.length > 0) this.last = records.at(-1)!.id;
    return records;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    disconnectOnce(this.client);
  }
}

/** Short field names, and only the fields that are set: each byte is kept for every event. */
function auditFields(entry: AuditEntry): string[] {
  const fields: string[] = ["e", entry.eventId, "t", entry.type];
  const optional: [string, string | null][] = [
    ["a", entry.actorId],
    ["u", entry.userId],
    ["s", entry.sessionId],
    ["ip", entry.clientIp],
    ["ua", entry.userAgent],
    ["d", entry.device],
    ["x", Object.keys(entry.details).length > 0 ? JSON.stringify(entry.details) : null],
  ];
  for (const [name, value] of optional) if (value !== null) fields.push(name, value);
  return fields;
}

/** The stream an event goes to first, then the user's other stream (whose last id it must stay above). */
function userStreamKeys(userId: string, stream: UserAuditStream): [string, string] {
  const history = keys.auditEvents(userId);
  const attempts = keys.auditAttempts(userId);
  return stream === "history" ? [history, attempts] : [attempts, history];
}

function parseAuditEntry(id: string, fields: string[], stream: "user" | "global"): AuditRecord {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  const field = (name: string) => map.get(name) ?? null;
  return {
    id,
    at: Number(id.split("-")[0]),
    // An entry written before events had ids (or by an older instance during a rolling upgrade):
    // its place in the stream read, marked with the stream, so it is unique but never matches
    // the same event read from the other stream, nor another event's id there.
    eventId: field("e") ?? `${stream}-${id}`,
    type: field("t") ?? "UNKNOWN",
    actorId: field("a"),
    userId: field("u"),
    sessionId: field("s"),
    clientIp: field("ip"),
    userAgent: field("ua"),
    device: field("d"),
    details: parseJson<Record<string, unknown>>(field("x")) ?? {},
  };
}
