import { keys } from "@revocable-auth/verifier/internal";
import type { KeySetStore } from "../store";
import type { RedisCore } from "./core";

/** The key set's version, which every verifier reads. */
export function redisKeySet(core: RedisCore): KeySetStore {
  return {
    async publishKeySetVersion(version: string): Promise<void> {
      await core.guard(() => core.client.set(keys.keySet(), version));
    },

    keySetVersion(): Promise<string | null> {
      return core.guard(() => core.client.get(keys.keySet()));
    },
  };
}
