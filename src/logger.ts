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

/**
 * The asynchronous destination's state. pino's own `flush(cb)` does not wait: with `minLength` 0
 * sonic-boom calls back at once, and the exit hook's blocking flush then skips a write still in
 * flight (lost under a slow reader) or lands the last lines before it (a crash's fatal line not
 * last). So the flush here waits for sonic-boom's `drain`, reading the two fields that say whether
 * a write is under way: sonic-boom 4's, the version pino 10 ships.
 */
interface Destination {
  readonly _writing?: boolean;
  readonly _len?: number;
  flush?(): void;
  flushSync?(): void;
  once(event: "drain", listener: () => void): unknown;
}

function destinationOf(logger: Logger): Destination | undefined {
  return (logger as unknown as Record<symbol, Destination | undefined>)[pino.symbols.streamSym];
}

/** Waits until every buffered line is written, in order. */
export function flushLogs(logger: Logger): Promise<void> {
  const stream = destinationOf(logger);
  if (!stream || (!stream._writing && !stream._len)) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once("drain", () => resolve());
    if (!stream._writing) stream.flush?.();
  });
}

/** Writes every buffered line now, blocking: for a process about to die. */
export function flushLogsSync(logger: Logger): void {
  try {
    destinationOf(logger)?.flushSync?.();
  } catch {
    // Best effort: the process is going down either way.
  }
}

/**
 * How long a crashing process waits for its buffered lines (a reader that takes none for this
 * long is stuck) before it writes what is left, blocking.
 */
const FATAL_FLUSH_WITHIN_MS = 5_000;

/**
 * A crash still writes its last lines, in order: the fatal one after whatever was buffered before
 * it. pino writes a fatal line with a blocking flush, which would overtake a write still in flight
 * (under load the thread pool may not have run it yet), so the lines before it are flushed first;
 * only a destination stuck past the bound gets the fatal line regardless.
 */
export function exitOnFatal(logger: Logger): void {
  process.on("uncaughtException", (error) => {
    let done = false;
    const die = () => {
      if (done) return;
      done = true;
      logger.fatal({ err: error }, "fatal error");
      flushLogsSync(logger);
      process.exit(1);
    };
    const fallback = setTimeout(die, FATAL_FLUSH_WITHIN_MS);
    void flushLogs(logger).then(() => {
      clearTimeout(fallback);
      die();
    });
  });
}
