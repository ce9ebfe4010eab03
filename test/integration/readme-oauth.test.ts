import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { PASSWORD } from "../support/client";
import { markedBlocks, missingFragment, ROOT, statedOutcomes } from "../support/readme";
import { startOAuthApi } from "../support/oauth";
import type { TestApi } from "../support/api";

/**
 * The README's OAuth provider block, run as written in bash against the API with OAUTH_PROVIDER=on
 * and the admin its prose names; only the issuer's URL differs.
 */
const README_ISSUER = "ISSUER=http://localhost:4000";
const block = markedBlocks().find((marked) => marked.role === "oauth");
let api: TestApi & { issuer: string };

beforeAll(async () => {
  api = await startOAuthApi(null, { ADMIN_EMAIL: "admin@example.com", ADMIN_PASSWORD: PASSWORD });
});
afterAll(() => api?.stop());

it("runs the README's OAuth provider block as written: a relying party signs a user in, and the user revokes it", async () => {
  expect(block).toBeDefined();
  expect(block!.code.split(README_ISSUER)).toHaveLength(2);
  const script = block!.code.replace(README_ISSUER, `ISSUER=${api.issuer}`);
  const run = await promisify(execFile)("bash", ["-eo", "pipefail", "-c", script], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" }, encoding: "utf8", timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ status: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ status: error.code ?? 1, stdout: error.stdout ?? "", stderr: error.stderr ?? "" }),
  );
  const report = `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
  expect({ status: run.status, stderr: run.stderr, report }).toEqual({ status: 0, stderr: "", report: expect.any(String) });
  expect({ missing: missingFragment(run.stdout, statedOutcomes(block!.code)), report }).toEqual({ missing: null, report: expect.any(String) });
});
