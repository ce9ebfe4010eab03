import { badInput } from "../../errors";
import type { UserPosition } from "../../store/store";

/**
 * Opaque page cursors: a user's place in the (createdAt, id) order, base64url-encoded. Clients
 * must not build them; the encoding may change. A place in that order never moves when users
 * are added, so a cursor stays valid and pages neither skip nor repeat anyone.
 */
export function encodeCursor({ createdAt, id }: UserPosition): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString("base64url");
}

const MAX_CURSOR_LENGTH = 512;

export function decodeCursor(cursor: string): UserPosition {
  const invalid = () => badInput("after must be a cursor returned by this API (an endCursor or an edge's cursor)");
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) throw invalid();
  const [createdAt, id] = decoded as unknown[];
  if (!Number.isSafeInteger(createdAt) || (createdAt as number) < 0 || typeof id !== "string" || id === "" || id.length > 128) {
    throw invalid();
  }
  return { createdAt: createdAt as number, id };
}

/** Audit event cursors: an entry's place in its stream (its id), base64url-encoded; just as opaque. */
export function encodeEventCursor(id: string): string {
  return Buffer.from(id).toString("base64url");
}

export function decodeEventCursor(cursor: string): string {
  const id = cursor.length <= 64 && /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  if (!/^\d{1,16}-\d{1,19}$/.test(id)) throw badInput("after must be a cursor returned by this API (an endCursor or an edge's cursor)");
  return id;
}
