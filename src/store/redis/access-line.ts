import { keys } from "@revocable-auth/verifier/internal";
import type { Role, UserRecord } from "../store";

/**
 * The compact access record (`keys.accessRecord`): what the per-request check reads of the user, as
 * one flat line instead of the JSON record, so the hot path splits a short string rather than
 * JSON.parse a larger one. It carries the whole profile `me` answers with (id aside: the key names
 * it), so `me` stays one round trip:
 *
 *   1|<access version>|<disabled><mfaEnabled><emailVerified>|<createdAt>|<role,role>|<email>
 *
 * Each flag is 1 or 0, or - when the record leaves it out (mfaEnabled and emailVerified are absent
 * on older records), so the record read back is the record written, on every backend alike.
 * The leading 1 is the layout's version. The email is last: it alone may hold a `|`. Every write of
 * the JSON record writes this line in the same script (lua/fragments.ts, put_user), the JSON record
 * stays for the verifier package and the session scripts. A record from before the line existed
 * is converted on its first read (migrateAccessRecord): an upgrade in place logs nobody out.
 */
const LAYOUT = "1";

/** The line for a record, as the Lua fragment ACCESS_LINE builds it. */
export function encodeAccessLine(user: UserRecord, version: number): string {
  const flags = `${user.disabled ? 1 : 0}${flag(user.mfaEnabled)}${flag(user.emailVerified)}`;
  return `${LAYOUT}|${version}|${flags}|${user.createdAt}|${user.roles.join(",")}|${user.email}`;
}

/** The record a line stands for; null for a layout this code does not know (read as no record: fail closed). */
export function decodeAccessLine(userId: string, line: string): UserRecord | null {
  const cut: number[] = [];
  for (let at = -1, i = 0; i < 5; i++) {
    at = line.indexOf("|", at + 1);
    if (at < 0) return null;
    cut.push(at);
  }
  if (line.slice(0, cut[0]) !== LAYOUT) return null;
  const flags = line.slice(cut[1]! + 1, cut[2]);
  const roles = line.slice(cut[3]! + 1, cut[4]);
  const user: { -readonly [K in keyof UserRecord]: UserRecord[K] } = {
    id: userId,
    email: line.slice(cut[4]! + 1),
    roles: (roles === "" ? [] : roles.split(",")) as Role[],
    createdAt: Number(line.slice(cut[2]! + 1, cut[3])),
    disabled: flags[0] === "1",
  };
  if (flags[1] !== "-") user.mfaEnabled = flags[1] === "1";
  if (flags[2] !== "-") user.emailVerified = flags[2] === "1";
  return user;
}

const flag = (value: boolean | undefined): string => (value === undefined ? "-" : value ? "1" : "0");

/** The four keys of the API's per-request check: the verifier's, with the access record for the JSON record. */
export function accessLineKeys(userId: string, sessionId: string, jti: string): [string, string, string, string] {
  return [keys.accessRecord(userId), keys.session(userId, sessionId), keys.cutoff(userId), keys.revokedAccessToken(userId, jti)];
}
