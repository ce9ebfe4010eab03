import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMPILE_CACHE_VARIABLE, PORTS_DIR_VARIABLE } from "./ports";

/**
 * Once for every lane of the run: makes the folder where each worker keeps its place among its
 * ports, and the one where Node keeps the bytecode of the modules it compiled (NODE_COMPILE_CACHE),
 * so the API processes the tests start (spawnApi) load faster after the first. Workers inherit
 * this process's environment.
 */
export default function globalSetup(): void {
  process.env[PORTS_DIR_VARIABLE] ??= mkdtempSync(join(tmpdir(), "auth-api-test-ports-"));
  process.env[COMPILE_CACHE_VARIABLE] ??= mkdtempSync(join(tmpdir(), "auth-api-test-compile-cache-"));
}
