import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

/** Builds dist/ once, for the tests that run the real entry point in separate processes. */
export default function globalSetup(): void {
  const root = resolve(__dirname, "../..");
  execFileSync(process.execPath, [resolve(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit",
  });
}
