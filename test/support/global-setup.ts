import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PORTS_DIR_VARIABLE } from "./ports";

/**
 * Builds the verifier package, dist/ and the example service once, for the tests that run them in
 * separate processes; and makes the folder where each worker keeps its place among its ports.
 */
export default function globalSetup(): void {
  const root = resolve(__dirname, "../..");
  const tsc = (project: string) =>
    execFileSync(process.execPath, [resolve(root, "node_modules/typescript/bin/tsc"), "-p", project], { cwd: root, stdio: "inherit" });
  tsc("packages/verifier/tsconfig.json");
  tsc("tsconfig.build.json");
  tsc("examples/notes-service/tsconfig.json");
  // Workers inherit this process's environment.
  process.env[PORTS_DIR_VARIABLE] = mkdtempSync(join(tmpdir(), "auth-api-test-ports-"));
}
