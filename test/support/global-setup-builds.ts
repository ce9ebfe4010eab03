import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Builds the verifier package, dist/ and the example service, for the tests that run them in
 * separate processes. Jest runs one global setup file once however many lanes name it; the fast
 * lane does not, so `npm run test:fast` compiles nothing. The two that need the verifier's types
 * build side by side once it is built: two cores, and the tests wait for all three.
 */
export default async function globalSetupBuilds(): Promise<void> {
  const root = resolve(__dirname, "../..");
  const tsc = async (project: string) => {
    try {
      await run(process.execPath, [resolve(root, "node_modules/typescript/bin/tsc"), "-p", project], { cwd: root });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`tsc -p ${project} failed:\n${stdout ?? ""}${stderr ?? ""}`);
    }
  };
  await tsc("packages/verifier/tsconfig.json");
  await Promise.all([tsc("tsconfig.build.json"), tsc("examples/notes-service/tsconfig.json")]);
}
