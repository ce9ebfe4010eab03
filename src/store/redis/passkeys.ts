import { keys } from "@revocable-auth/verifier/internal";
import type { AddPasskeyResult, PasskeyRecord, PasskeyStore, UsePasskeyResult, WebAuthnChallenge, WebAuthnChallengeStore } from "../store";
import { parseJson, type RedisCore } from "./core";

/** Passkeys on the user's slot, each claimed on the directory by its credential id; WebAuthn challenges. */
export function redisPasskeys(core: RedisCore): PasskeyStore & WebAuthnChallengeStore {
  return {
    /**
     * Two ordered steps, as registering a user: the directory claim on the credential id first (so
     * no two users can hold one id), then the user's own record; a failed second step frees the claim.
     */
    addPasskey(passkey: PasskeyRecord, max: number): Promise<AddPasskeyResult> {
      return core.guard(async () => {
        const owner = keys.passkeyOwner(passkey.id);
        const claimed = (await core.client.set(owner, passkey.userId, "NX")) === "OK";
        if (!claimed && (await core.client.get(owner)) !== passkey.userId) return "taken";
        const result = (await core.script("addPasskey", [keys.user(passkey.userId), keys.passkeys(passkey.userId)], [
          passkey.id,
          JSON.stringify(passkey),
          max,
        ])) as AddPasskeyResult;
        if (result !== "added" && claimed) await core.script("releaseClaim", [owner], [passkey.userId]);
        return result;
      });
    },

    passkeyOwner(credentialId: string): Promise<string | null> {
      return core.guard(() => core.client.get(keys.passkeyOwner(credentialId)));
    },

    getPasskey(userId: string, credentialId: string): Promise<PasskeyRecord | null> {
      return core.guard(async () => parsePasskey(await core.client.hget(keys.passkeys(userId), credentialId)));
    },

    listPasskeys(userId: string): Promise<PasskeyRecord[]> {
      return core.guard(async () => {
        const raws = Object.values(await core.client.hgetall(keys.passkeys(userId)));
        return raws.map((raw) => parsePasskey(raw)!).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
      });
    },

    renamePasskey(userId: string, credentialId: string, name: string): Promise<PasskeyRecord | null> {
      return core.guard(async () => parsePasskey(await core.script("renamePasskey", [keys.passkeys(userId)], [credentialId, name])));
    },

    usePasskey(userId: string, credentialId: string, counter: number): Promise<UsePasskeyResult> {
      return core.guard(async () => {
        const [status, raw] = (await core.script("usePasskey", [keys.passkeys(userId)], [credentialId, counter])) as [string, string?];
        if (status === "missing") return { status };
        return { status: status as "used" | "counter_regressed", passkey: parsePasskey(raw ?? null)! };
      });
    },

    async saveChallenge(id: string, challenge: WebAuthnChallenge, ttlMs: number): Promise<void> {
      await core.guard(() => core.client.set(keys.webauthnChallenge(id), JSON.stringify(challenge), "PX", ttlMs));
    },

    takeChallenge(id: string): Promise<WebAuthnChallenge | null> {
      return core.guard(async () => parseJson<WebAuthnChallenge>(await core.script("takeChallenge", [keys.webauthnChallenge(id)], [])));
    },
  };
}

/** Lua's cjson writes an empty list as {}: read transports back as a list whatever it holds. */
function parsePasskey(raw: string | null): PasskeyRecord | null {
  const passkey = parseJson<PasskeyRecord>(raw);
  if (passkey === null) return null;
  return { ...passkey, transports: Array.isArray(passkey.transports) ? passkey.transports : [] };
}
