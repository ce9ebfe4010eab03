import pino, { type Logger } from "pino";

/**
 * Each write is at most this many bytes and holds whole lines, so on a pipe shared by several
 * workers (WORKERS > 1) a write is atomic (PIPE_BUF) and lines from two workers never interleave.
 */
const MAX_WRITE_BYTES = 4096;

export interface LoggerOptions {
  /** The cluster worker's id, added to every line when WORKERS > 1. */
  readonly worker?: number;
  /** Where lines go; by default stdout, written asynchronously. */
  readonly destination?: pino.DestinationStream;
}

/**
 * JSON logs, written to stdout asynchronously: a line is buffered and written by the event loop
 * (several lines at once under load), so logging costs a request no blocking I/O. Flush with
 * `flushLogs` before a planned exit and `flushLogsSync` on a fatal error, so nothing is lost.
 *
 * Anything that could carry a credential is redacted by path as a second line of defence; the
 * code itself never logs tokens, passwords or hashes.
 */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  return pino(
    {
      level,
      base: { service: "revocable-auth-api", ...(options.worker === undefined ? {} : { worker: options.worker }) },
      redact: {
        paths: ["req.headers.authorization", "req.headers.cookie", "*.password", "*.passwordHash", "*.token", "*.refreshToken", "*.accessToken"],
        censor: "[redacted]",
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false, maxWrite: MAX_WRITE_BYTES }),
  );
}

/** Waits until every buffered line is written. */
export function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}

/** Writes every buffered line now, blocking: for a process about to die. */
export function flushLogsSync(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void }>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // Best effort: the process is going down either way.
  }
}

/** How long a crashing process waits for its buffered lines before it writes what is left, blocking. */
const FATAL_FLUSH_WITHIN_MS = 2_000;

/**
 * A crash still writes its last lines, in order: the fatal one after whatever was buffered before
 * it. The flush is asynchronous, so a write already in flight lands before the rest (a blocking
 * flush could overtake it); a stuck flush falls back to the blocking one.
 */
export function exitOnFatal(logger: Logger): void {
  process.on("uncaughtException", (error) => {
    logger.fatal({ err: error }, "fatal error");
    const fallback = setTimeout(() => {
      flushLogsSync(logger);
      process.exit(1);
    }, FATAL_FLUSH_WITHIN_MS);
    void flushLogs(logger).then(() => {
      clearTimeout(fallback);
      process.exit(1);
    });
  });
}
