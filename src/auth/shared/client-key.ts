import { isIPv6 } from "node:net";

/**
 * Who a counter counts: an IPv4 address, or an IPv6 address's /64. One subscriber or host usually
 * holds a whole /64, so counting single IPv6 addresses would hand an attacker 2^64 fresh counters.
 */
export function clientKey(clientIp: string): string {
  const address = clientIp.split("%")[0]!;
  if (!isIPv6(address)) return clientIp;
  const [head = "", tail] = address.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":").flatMap((g) => (g.includes(".") ? ["0", "0"] : [g])));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(":")}::/64`;
}
