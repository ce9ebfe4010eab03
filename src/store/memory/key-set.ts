import type { KeySetStore } from "../store";
import type { MemoryCore } from "./core";

/** The key set's version: kept for the contract only, no verifier reads the embedded store. */
export function memoryKeySet(core: MemoryCore): KeySetStore {
  return {
    async publishKeySetVersion(version: string): Promise<void> {
      core.publishedKeySet = version;
    },

    async keySetVersion(): Promise<string | null> {
      return core.publishedKeySet;
    },
  };
}
