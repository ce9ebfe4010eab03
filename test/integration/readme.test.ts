import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPostgres, type TestPostgres } from "../support/postgres";
import { markedBlocks, missingFragment, ROOT, statedOutcomes } from "../support/readme";
import { freePort, startRedis, type TestRedis } from "../support/redis";

/**
 * The README's quick start and curl walkthrough, run as written: the server is started with the
 * quick-start command (`npm start` is `node dist/index.js` once compiled; the global setup compiled
 * it), and each walkthrough block runs in bash against it, five times over, as a reader trying
 * things would. Only the port differs, and the log file: the quick start tees the server's log
 * into api.log, which the test writes to a file of its own.
 */
const README_URL = "API=http://localhost:4000/graphql";
const README_LOG = "LOG=api.log";
const TEE = " | tee api.log";
const logDir = mkdtempSync(join(tmpdir(), "readme-"));
const logFile = join(logDir, "api.log");
const blocks = markedBlocks();
const serverBlock = blocks.find((block) => block.role === "server");
const postgresBlock = blocks.find((block) => block.role === "postgres");
/** The URLs the "With Postgres" block names, replaced by the test's own servers. */
const README_DATABASE_URL = "DATABASE_URL=postgres://localhost:5432/auth";
const README_REDIS_URL = "REDIS_URL=redis://localhost:6379";
const walkthrough = blocks.filter((block) => block.role === "run");
/** How often the whole walkthrough runs against the one server. */
const PASSES = 5;

/** A server started by the quick-start command, writing its log into `logFile`. */
interface ReadmeServer {
  readonly process: ChildProcess;
  readonly port: number;
  readonly logFile: string;
  /** The log (the server writes it straight into the file, which the walkthrough reads) and the errors. */
  output(): string;
}

const servers: ReadmeServer[] = [];

async function startServer(command: string, serverLog: string): Promise<ReadmeServer> {
  const port = await freePort();
  const log = openSync(serverLog, "w");
  // Only what a fresh shell has: no NODE_ENV, no REDIS_URL, no JWT_SECRET.
  const child = spawn("bash", ["-c", command.slice(0, -TEE.length).replace(/npm start$/, "exec node dist/index.js")], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", PORT: String(port) },
    stdio: ["ignore", log, "pipe"],
  });
  closeSync(log);
  let errors = "";
  child.stderr!.on("data", (chunk: Buffer) => (errors += chunk.toString()));
  const started: ReadmeServer = { process: child, port, logFile: serverLog, output: () => readFileSync(serverLog, "utf8") + errors };
  servers.push(started);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}:\n${started.output()}`);
    try {
      if ((await fetch(`http://localhost:${port}/healthz`)).ok) return started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not answer within 20 s:\n${started.output()}`);
}

/** Runs a walkthrough block as written against `target`, in bash -eo pipefail, as a reader's shell would stop. */
function runBlock(code: string, target: ReadmeServer) {
  const script = code.replace(README_URL, `API=http://localhost:${target.port}/graphql`).replace(README_LOG, `LOG=${target.logFile}`);
  const run = spawnSync("bash", ["-eo", "pipefail", "-c", script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { ...run, report: `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}` };
}

const [install, start, ...rest] = serverBlock!.code.trimEnd().split("\n");
let server: ReadmeServer;
const serverOutput = () => server.output();

beforeAll(async () => {
  expect({ install, rest }).toEqual({ install: "npm ci", rest: [] });
  expect(start).toMatch(/ npm start \| tee api\.log$/);
  server = await startServer(start, logFile);
});

afterAll(async () => {
  for (const { process: child } of servers) {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  }
  rmSync(logDir, { recursive: true, force: true });
});

describe("the README", () => {
  it("marks the quick-start server block and seven walkthrough blocks (the seventh: DPoP), each stating its outcomes", () => {
    expect(serverBlock).toBeDefined();
    expect(walkthrough).toHaveLength(7);
    for (const block of walkthrough) {
      expect(block.code.split(README_URL)).toHaveLength(2);
      expect(statedOutcomes(block.code).length).toBeGreaterThan(0);
    }
  });

  it("starts as the quick start says: embedded store, random secret and MFA key, the admin account, and /auth/sign-in", async () => {
    expect(serverOutput()).toMatch(/embedded in-memory store/);
    expect(serverOutput()).toMatch(/JWT_SECRET is not set/);
    expect(serverOutput()).toMatch(/MFA_ENCRYPTION_KEY is not set/);
    expect(serverOutput()).toMatch(/created the admin user from ADMIN_EMAIL/);
    expect(serverOutput()).toMatch(/MAIL_URL is not set: mails, with their links, are written to the log/);
    // The first thing the quick start says to open: the hosted sign-in page, with its "Sign in" button.
    expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain("<http://localhost:4000/auth/sign-in>");
    const page = await fetch(`http://localhost:${server.port}/auth/sign-in`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<button type="submit" class="primary">Sign in<\/button>/);
  });

  it("has curl, which the walkthrough needs", () => {
    const curl = spawnSync("bash", ["-c", "command -v curl"], { encoding: "utf8" });
    expect({ status: curl.status, hint: "install curl (.ci/run does)" }).toEqual({ status: 0, hint: expect.any(String) });
  });

  const passes = Array.from({ length: PASSES }, (_, pass) => walkthrough.map((block, index) => [pass + 1, index + 1, block.code] as const)).flat();
  it.each(passes)(
    "pass %d: runs walkthrough block %d as written, with the outcomes it states (a reader may repeat it against the same server, without limit)",
    (_pass, _block, code) => {
      const run = runBlock(code, server);
      expect({ status: run.status, stderr: run.stderr, report: run.report }).toEqual({ status: 0, stderr: "", report: expect.any(String) });
      expect({ missing: missingFragment(run.stdout, statedOutcomes(code)), report: run.report }).toEqual({ missing: null, report: expect.any(String) });
    },
    60_000,
  );

  it("has every block that meets an API error print the error's code, reason and message, never a JavaScript stack trace", async () => {
    // The same quick start, but one registration an hour: the blocks after the first meet REGISTER_THROTTLED.
    const strict = await startServer(start.replace(/REGISTER_MAX_PER_IP=\d+/, "REGISTER_MAX_PER_IP=1"), join(logDir, "strict.log"));
    const runs = walkthrough.map((block) => runBlock(block.code, strict));
    for (const run of runs) {
      expect({ stackTrace: /\bTypeError\b|^\s+at \S.*:\d+:\d+\)?$/m.test(run.stdout + run.stderr), report: run.report }).toEqual({ stackTrace: false, report: expect.any(String) });
      if (run.status !== 0) expect({ stderr: run.stderr, report: run.report }).toEqual({ stderr: expect.stringMatching(/^TOO_MANY_REQUESTS REGISTER_THROTTLED \S/m), report: expect.any(String) });
    }
    expect(runs.filter((run) => run.status !== 0).length).toBeGreaterThanOrEqual(3);
  }, 120_000);
});

describe("the README's \"With Postgres\" block", () => {
  let postgres: TestPostgres;
  let redis: TestRedis;
  let withPostgres: ReadmeServer;
  let database: string;

  beforeAll(async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    const url = await postgres.createDatabase("auth");
    database = url.split("/").at(-1)!;
    const command = postgresBlock!.code.trimEnd();
    expect(command.split("\n")).toHaveLength(1);
    expect(command).toContain(README_DATABASE_URL);
    expect(command).toContain(README_REDIS_URL);
    expect(command).toMatch(/ npm start \| tee api\.log$/);
    withPostgres = await startServer(command.replace(README_DATABASE_URL, `DATABASE_URL=${url}`).replace(README_REDIS_URL, `REDIS_URL=${redis.url}`), join(logDir, "postgres.log"));
  }, 60_000);
  afterAll(async () => {
    if (withPostgres?.process.exitCode === null) {
      withPostgres.process.kill("SIGTERM");
      await once(withPostgres.process, "exit");
    }
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
  });

  it("starts on Postgres and Redis, with its schema applied and the admin account in Postgres", async () => {
    expect(withPostgres.output()).toMatch(/the Postgres schema is up to date/);
    expect(withPostgres.output()).not.toMatch(/embedded in-memory store/);
    expect(await postgres.query("SELECT email FROM users", [], database)).toEqual([{ email: "admin@example.com" }]);
  });

  it.each(walkthrough.map((block, index) => [index + 1, block.code] as const))(
    "runs walkthrough block %d as written against it, with the outcomes it states",
    (_block, code) => {
      const run = runBlock(code, withPostgres);
      expect({ status: run.status, stderr: run.stderr, report: run.report }).toEqual({ status: 0, stderr: "", report: expect.any(String) });
      expect({ missing: missingFragment(run.stdout, statedOutcomes(code)), report: run.report }).toEqual({ missing: null, report: expect.any(String) });
    },
    60_000,
  );
});
