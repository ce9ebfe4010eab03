import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { TestApi } from "../support/api";
import { markedBlocks, missingFragment, ROOT, statedOutcomes } from "../support/readme";
import { startApiWithProvider, type TestProvider } from "../support/oidc";

/**
 * The README's provider sign-in block, run as written in bash against the API configured with a
 * local oidc-provider as `corp` (the block's own prose says how); only the API's URL differs.
 */
const README_URL = "API=http://localhost:4000/graphql";
const block = markedBlocks().find((marked) => marked.role === "oidc");
let api: TestApi, provider: TestProvider;

beforeAll(async () => {
  ({ api, provider } = await startApiWithProvider({ accounts: {} }));
});
afterAll(async () => {
  await api?.stop();
  await provider?.stop();
});

it("runs the README's provider sign-in block as written, with the outcomes it states", async () => {
  expect(block).toBeDefined();
  expect(block!.code.split(README_URL)).toHaveLength(2);
  const script = block!.code.replace(README_URL, `API=${api.url}`);
  // Asynchronously: the API answers from this very process.
  const run = await promisify(execFile)("bash", ["-eo", "pipefail", "-c", script], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" }, encoding: "utf8", timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ status: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ status: error.code ?? 1, stdout: error.stdout ?? "", stderr: error.stderr ?? "" }),
  );
  const report = `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
  expect({ status: run.status, stderr: run.stderr, report }).toEqual({ status: 0, stderr: "", report: expect.any(String) });
  expect({ missing: missingFragment(run.stdout, statedOutcomes(block!.code)), report }).toEqual({ missing: null, report: expect.any(String) });
});
