import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { markedBlocks, missingFragment, ROOT, statedOutcomes } from "../support/readme";
import { freePort } from "../support/redis";

/**
 * The README's quick start and curl walkthrough, run as written: the server is started with the
 * quick-start command (`npm start` is `node dist/index.js` once compiled; the global setup compiled
 * it), and each walkthrough block runs in bash against it. Only the port differs, and the log file:
 * the quick start tees the server's log into api.log, which the test writes to a file of its own.
 */
const README_URL = "API=http://localhost:4000/graphql";
const README_LOG = "LOG=api.log";
const TEE = " | tee api.log";
const logDir = mkdtempSync(join(tmpdir(), "readme-"));
const logFile = join(logDir, "api.log");
const blocks = markedBlocks();
const serverBlock = blocks.find((block) => block.role === "server");
const walkthrough = blocks.filter((block) => block.role === "run");

let server: ChildProcess;
let serverErrors = "";
/** The server writes its log straight into the file (the walkthrough reads it while this process waits), errors to a pipe. */
const serverOutput = () => readFileSync(logFile, "utf8") + serverErrors;
let port: number;

async function waitUntilHealthy(base: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}:\n${serverOutput()}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not answer within 20 s:\n${serverOutput()}`);
}

beforeAll(async () => {
  const [install, start, ...rest] = serverBlock!.code.trimEnd().split("\n");
  expect({ install, rest }).toEqual({ install: "npm ci", rest: [] });
  expect(start).toMatch(/ npm start \| tee api\.log$/);
  port = await freePort();
  const log = openSync(logFile, "w");
  // Only what a fresh shell has: no NODE_ENV, no REDIS_URL, no JWT_SECRET.
  server = spawn("bash", ["-c", start.slice(0, -TEE.length).replace(/npm start$/, "exec node dist/index.js")], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", PORT: String(port) },
    stdio: ["ignore", log, "pipe"],
  });
  closeSync(log);
  server.stderr!.on("data", (chunk: Buffer) => (serverErrors += chunk.toString()));
  await waitUntilHealthy(`http://localhost:${port}`);
});

afterAll(async () => {
  if (server.exitCode === null) {
    server.kill("SIGTERM");
    await once(server, "exit");
  }
  rmSync(logDir, { recursive: true, force: true });
});

describe("the README", () => {
  it("marks the quick-start server block and four walkthrough blocks, each stating its outcomes", () => {
    expect(serverBlock).toBeDefined();
    expect(walkthrough).toHaveLength(4);
    for (const block of walkthrough) {
      expect(block.code.split(README_URL)).toHaveLength(2);
      expect(statedOutcomes(block.code).length).toBeGreaterThan(0);
    }
  });

  it("starts as the quick start says: embedded store, random secret and MFA key, the admin account", () => {
    expect(serverOutput()).toMatch(/embedded in-memory store/);
    expect(serverOutput()).toMatch(/JWT_SECRET is not set/);
    expect(serverOutput()).toMatch(/MFA_ENCRYPTION_KEY is not set/);
    expect(serverOutput()).toMatch(/created the admin user from ADMIN_EMAIL/);
    expect(serverOutput()).toMatch(/MAIL_URL is not set: mails, with their links, are written to the log/);
  });

  it("has curl, which the walkthrough needs", () => {
    const curl = spawnSync("bash", ["-c", "command -v curl"], { encoding: "utf8" });
    expect({ status: curl.status, hint: "install curl (.ci/run does)" }).toEqual({ status: 0, hint: expect.any(String) });
  });

  it.each([...walkthrough, ...walkthrough].map((block, index) => [(index % walkthrough.length) + 1, index < walkthrough.length ? "" : ", again", block.code] as const))(
    "runs walkthrough block %d%s as written, with the outcomes it states (a reader may repeat it against the same server)",
    (_, _again, code) => {
      const script = code.replace(README_URL, `API=http://localhost:${port}/graphql`).replace(README_LOG, `LOG=${logFile}`);
      const run = spawnSync("bash", ["-eo", "pipefail", "-c", script], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
        encoding: "utf8",
        timeout: 60_000,
      });
      const report = `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
      expect({ status: run.status, stderr: run.stderr, report }).toEqual({ status: 0, stderr: "", report: expect.any(String) });
      expect({ missing: missingFragment(run.stdout, statedOutcomes(code)), report }).toEqual({ missing: null, report: expect.any(String) });
    },
    60_000,
  );
});
