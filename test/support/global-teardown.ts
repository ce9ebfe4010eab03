import { rmSync } from "node:fs";
import { COMPILE_CACHE_VARIABLE, PORTS_DIR_VARIABLE } from "./ports";

/** Removes the folders the global setup made for the workers. */
export default function globalTeardown(): void {
  for (const variable of [PORTS_DIR_VARIABLE, COMPILE_CACHE_VARIABLE]) {
    const dir = process.env[variable];
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
