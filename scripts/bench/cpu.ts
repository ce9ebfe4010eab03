/**
 * The CPU a server process (and its workers) has used, from /proc: what `npm run bench` divides by
 * the requests served to report CPU µs per request. Null where there is no /proc (not Linux).
 */
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

/** utime + stime of `pid` and, recursively, of its live children, in seconds. */
export function cpuSeconds(pid: number): number | null {
  try {
    // Fields after the command (which may hold spaces), counted from field 3: utime is 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const own = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    return own + childrenOf(pid).reduce((sum, child) => sum + (cpuSeconds(child) ?? 0), 0);
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
