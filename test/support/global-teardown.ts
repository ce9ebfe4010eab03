import { rmSync } from "node:fs";
import { PORTS_DIR_VARIABLE } from "./ports";

/** Removes the folder the global setup made for the workers' ports. */
export default function globalTeardown(): void {
  const dir = process.env[PORTS_DIR_VARIABLE];
  if (dir) rmSync(dir, { recursive: true, force: true });
}
