import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const LOGGER = resolve(__dirname, "../../dist/logger.js");

/** Runs a script against the built logger in a process of its own; returns its exit code and stdout. */
function run(script: string): { status: number | null; lines: Record<string, unknown>[] } {
  const result = spawnSync(process.execPath, ["-e", `const log = require(${JSON.stringify(LOGGER)});\n${script}`], { encoding: "utf8", timeout: 15_000 });
  const lines = result.stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { status: result.status, lines };
}

const BURST = 5_000;

describe("the asynchronous log", () => {
  it("loses no line on a fatal error: the lines buffered before it and the fatal one are written", () => {
    const { status, lines } = run(`
      const logger = log.createLogger("info");
      log.exitOnFatal(logger);
      for (let i = 0; i < ${BURST}; i++) logger.info({ i }, "request");
      setImmediate(() => { throw new Error("boom"); });
    `);
    expect(status).toBe(1);
    expect(lines.filter((line) => line.msg === "request")).toHaveLength(BURST);
    expect(lines.at(-1)).toMatchObject({ level: 60, msg: "fatal error", err: { message: "boom" } });
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
