import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

/**
 * Builds the verifier package, dist/ and the example service, for the tests that run them in
 * separate processes. Jest runs one global setup file once however many lanes name it; the fast
 * lane does not, so `npm run test:fast` compiles nothing.
 */
export default function globalSetupBuilds(): void {
  const root = resolve(__dirname, "../..");
  const tsc = (project: string) =>
    execFileSync(process.execPath, [resolve(root, "node_modules/typescript/bin/tsc"), "-p", project], { cwd: root, stdio: "inherit" });
  tsc("packages/verifier/tsconfig.json");
  tsc("tsconfig.build.json");
  tsc("examples/notes-service/tsconfig.json");
}
