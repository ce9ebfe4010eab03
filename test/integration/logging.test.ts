import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const LOGGER = resolve(__dirname, "../../dist/logger.js");

/** Runs a script against the built logger in a process of its own; returns its exit code and stdout. */
function run(script: string, env: Record<string, string> = {}): { status: number | null; lines: Record<string, unknown>[] } {
  const result = spawnSync(process.execPath, ["-e", `const log = require(${JSON.stringify(LOGGER)});\n${script}`], {
    encoding: "utf8",
    timeout: 15_000,
    env: { ...process.env, ...env },
  });
  const lines = result.stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { status: result.status, lines };
}

const BURST = 5_000;

/**
 * As `run`, with the thread pool busy: one thread, held by a long pbkdf2. The log's writes queue
 * behind it, as they do when a loaded machine is slow to schedule the pool; a process that exits
 * before they run loses them.
 */
function runWithBusyThreadPool(script: string): { status: number | null; lines: Record<string, unknown>[] } {
  const busy = `require("node:crypto").pbkdf2("p", "s", 300000, 32, "sha512", () => undefined);`;
  return run(`${busy}\n${script}`, { UV_THREADPOOL_SIZE: "1" });
}

/** A burst of lines, then an uncaught exception. */
const CRASH = `
  const logger = log.createLogger("info");
  log.exitOnFatal(logger);
  for (let i = 0; i < ${BURST}; i++) logger.info({ i }, "request");
  setImmediate(() => { throw new Error("boom"); });
`;

describe("the asynchronous log", () => {
  it("loses no line on a fatal error: the lines buffered before it and the fatal one are written", () => {
    const { status, lines } = run(CRASH);
    expect(status).toBe(1);
    expect(lines.filter((line) => line.msg === "request")).toHaveLength(BURST);
    expect(lines.at(-1)).toMatchObject({ level: 60, msg: "fatal error", err: { message: "boom" } });
  });

  it("writes the fatal line last even when the thread pool is slow to write it (as under load)", () => {
    const { status, lines } = runWithBusyThreadPool(CRASH);
    expect(status).toBe(1);
    expect(lines.filter((line) => line.msg === "request").map((line) => line.i)).toEqual(Array.from({ length: BURST }, (_, i) => i));
    expect(lines.at(-1)).toMatchObject({ level: 60, msg: "fatal error" });
  });

  it("loses no line on a planned exit after flushLogs when the thread pool is slow to write (as under load)", () => {
    const { status, lines } = runWithBusyThreadPool(`
      const logger = log.createLogger("info");
      for (let i = 0; i < ${BURST}; i++) logger.info({ i }, "request");
      log.flushLogs(logger).then(() => { logger.info("last"); return log.flushLogs(logger); }).then(() => process.exit(0));
    `);
    expect(status).toBe(0);
    expect(lines.map((line) => line.i ?? line.msg)).toEqual([...Array.from({ length: BURST }, (_, i) => i), "last"]);
  });

  it("loses no line on a planned exit after flushLogs", () => {
    const { status, lines } = run(`
      const logger = log.createLogger("info");
      for (let i = 0; i < ${BURST}; i++) logger.info({ i }, "request");
      log.flushLogs(logger).then(() => process.exit(0));
    `);
    expect(status).toBe(0);
    expect(lines.map((line) => line.i)).toEqual(Array.from({ length: BURST }, (_, i) => i));
  });

});
