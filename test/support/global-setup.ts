import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PORTS_DIR_VARIABLE } from "./ports";

/** Makes the folder where each worker keeps its place among its ports, once for every lane of the run. */
export default function globalSetup(): void {
  // Workers inherit this process's environment.
  process.env[PORTS_DIR_VARIABLE] ??= mkdtempSync(join(tmpdir(), "auth-api-test-ports-"));
}
