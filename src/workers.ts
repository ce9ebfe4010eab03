import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import type { Config } from "./config";
import { flushLogs } from "./logger";
import { serveClusterMetrics } from "./metrics";

/**
 * WORKERS > 1: this primary serves nothing itself. It forks the workers, which share the port
 * (node:cluster hands each new connection to the next worker), replaces a worker that dies, and on
 * SIGTERM or SIGINT has every worker drain its requests, then exits 0. A worker that dies before it
 * ever listened is a start-up failure (Redis unreachable, port taken): the primary stops rather
 * than restart it in a loop, and exits with its code.
 */
export function runPrimary(config: Config, logger: Logger): void {
  serveClusterMetrics();
  const alive = new Set<Worker>();
  const listening = new WeakSet<Worker>();
  let stopping = false;

  const fork = () => {
    const worker = cluster.fork();
    alive.add(worker);
    worker.once("listening", () => {
      listening.add(worker);
      logger.info({ worker: worker.id, pid: worker.process.pid }, "worker listening");
    });
  };

  const exit = async (code: number) => {
    await flushLogs(logger);
    process.exit(code);
  };

  const stop = (signal: NodeJS.Signals, code = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: alive.size }, "shutting down: every worker finishes its in-flight requests");
    for (const worker of alive) worker.process.kill(signal);
    const finish = () => {
      if (alive.size > 0) return;
      logger.info("stopped");
      void exit(code);
    };
    cluster.on("exit", finish);
    finish();
  };

  cluster.on("exit", (worker, code, signal) => {
    alive.delete(worker);
    if (stopping) return;
    if (!listening.has(worker)) {
      logger.error({ worker: worker.id, code, signal }, "a worker failed to start: stopping");
      stop("SIGTERM", code || 1);
      return;
    }
    logger.warn({ worker: worker.id, pid: worker.process.pid, code, signal }, "worker died: starting a replacement");
    fork();
  });

  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  logger.info({ workers: config.workers }, "starting workers");
  for (let i = 0; i < config.workers; i++) fork();
}
