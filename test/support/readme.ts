import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";

export const ROOT = resolve(__dirname, "../..");

/** A shell block of the README marked with `<!-- readme-test: <role> -->` on the line before it. */
export interface MarkedBlock {
  readonly role: string;
  readonly code: string;
}

export function markedBlocks(file = "README.md"): MarkedBlock[] {
  const markdown = readFileSync(resolve(ROOT, file), "utf8");
  const pattern = /<!-- readme-test: ([\w-]+) -->\n```sh\n([\s\S]*?)```/g;
  return [...markdown.matchAll(pattern)].map(([, role, code]) => ({ role, code }));
}

/** The `# → a … b` lines of a block, each split into the fragments its output must contain. */
export function statedOutcomes(code: string): string[][] {
  return code
    .split("\n")
    .filter((line) => line.startsWith("# → "))
    .map((line) => line.slice("# → ".length).split(" … "));
}

/**
 * The first fragment (in order, exactly as written: a reader compares what they see) that `output`
 * does not contain after the previous one.
 */
export function missingFragment(output: string, outcomes: string[][]): string | null {
  let from = 0;
  for (const fragment of outcomes.flat()) {
    const at = output.indexOf(fragment, from);
    if (at < 0) return fragment;
    from = at + fragment.length;
  }
  return null;
}

/**
 * Runs a README block as written in bash (asynchronously: the API may answer from this very
 * process), with PATH and HOME only, and checks it exits 0 with nothing on stderr and prints every
 * outcome its comments state; the report in each expectation shows the whole run when one fails.
 */
export async function expectBlockRuns(script: string, statedIn: string): Promise<void> {
  const run = await promisify(execFile)("bash", ["-eo", "pipefail", "-c", script], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" }, encoding: "utf8", timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ status: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ status: error.code ?? 1, stdout: error.stdout ?? "", stderr: error.stderr ?? "" }),
  );
  const report = `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
  expect({ status: run.status, stderr: run.stderr, report }).toEqual({ status: 0, stderr: "", report: expect.any(String) });
  expect({ missing: missingFragment(run.stdout, statedOutcomes(statedIn)), report }).toEqual({ missing: null, report: expect.any(String) });
}
