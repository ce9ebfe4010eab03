import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

/**
 * Ports for the servers tests start (redis-server, sentinels, API processes), never bind(0)'s.
 *
 * bind(0) draws from the kernel's ephemeral range (32768–60999 on Linux), the range every
 * outgoing connection's local port also comes from, and a port freed by a killed node goes back
 * into it at once: the other Jest worker's next server could take it while this topology's
 * sentinels or cluster peers still point at it. CI saw failovers stall and cluster nodes fail to
 * start. Here each Jest worker walks a block of its own below that range, and the position is
 * kept for the whole run (in the folder the global setup makes), so no port is handed out twice
 * in a run. A cluster node's bus port (port + 10000) stays below the ephemeral range too.
 */
const FIRST_PORT = 11_000;
const BLOCK_SIZE = 1000;
const BLOCKS = 10;
export const CLUSTER_BUS_OFFSET = 10_000;

/** Set by the global setup for the workers: a folder holding each worker's next offset. */
export const PORTS_DIR_VARIABLE = "AUTH_API_TEST_PORTS_DIR";
/** Node's own (22.1 and later): where it caches compiled bytecode; the global setup sets it for the run. */
export const COMPILE_CACHE_VARIABLE = "NODE_COMPILE_CACHE";

let inProcessOffset = Math.floor(Math.random() * BLOCK_SIZE);

/** The next offset in this worker's block: kept in the run's folder, or in this process without one. */
function nextOffset(worker: number): number {
  const dir = process.env[PORTS_DIR_VARIABLE];
  if (!dir || !existsSync(dir)) return inProcessOffset++ % BLOCK_SIZE;
  const file = join(dir, `worker-${worker}`);
  // A random start: another run on this machine at the same time most likely walks elsewhere.
  const offset = existsSync(file) ? Number(readFileSync(file, "utf8")) : Math.floor(Math.random() * BLOCK_SIZE);
  writeFileSync(file, String((offset + 1) % BLOCK_SIZE));
  return offset;
}

export function canBind(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A loopback port nobody listens on, not handed out before in this run; with `bus`, port + 10000 is free too. */
export async function freePort({ bus = false }: { readonly bus?: boolean } = {}): Promise<number> {
  const worker = Number(process.env.JEST_WORKER_ID ?? 1);
  const base = FIRST_PORT + ((worker - 1) % BLOCKS) * BLOCK_SIZE;
  for (let tries = 0; tries < BLOCK_SIZE; tries++) {
    const port = base + nextOffset(worker);
    if ((await canBind(port)) && (!bus || (await canBind(port + CLUSTER_BUS_OFFSET)))) return port;
  }
  throw new Error(`no free port in ${base}–${base + BLOCK_SIZE - 1}`);
}
