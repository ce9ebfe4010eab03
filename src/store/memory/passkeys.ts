import type { AddPasskeyResult, PasskeyRecord, PasskeyStore, UsePasskeyResult, WebAuthnChallenge, WebAuthnChallengeStore } from "../store";
import type { MemoryCore } from "./core";

/** Passkeys, and the WebAuthn challenges handed out with their options. */
export function memoryPasskeys(core: MemoryCore): PasskeyStore & WebAuthnChallengeStore {
  return {
    async addPasskey(passkey: PasskeyRecord, max: number): Promise<AddPasskeyResult> {
      const owner = core.passkeyOwners.get(passkey.id);
      if (owner !== undefined && owner !== passkey.userId) return "taken";
      if (!core.users.has(passkey.userId)) return "user_missing";
      const held = core.passkeys.get(passkey.userId) ?? new Map<string, PasskeyRecord>();
      if (held.has(passkey.id)) return "taken";
      if (held.size >= max) return "limit";
      held.set(passkey.id, passkey);
      core.passkeys.set(passkey.userId, held);
      core.passkeyOwners.set(passkey.id, passkey.userId);
      return "added";
    },

    async passkeyOwner(credentialId: string): Promise<string | null> {
      return core.passkeyOwners.get(credentialId) ?? null;
    },

    async getPasskey(userId: string, credentialId: string): Promise<PasskeyRecord | null> {
      return core.passkeys.get(userId)?.get(credentialId) ?? null;
    },

    async listPasskeys(userId: string): Promise<PasskeyRecord[]> {
      return [...(core.passkeys.get(userId)?.values() ?? [])].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    },

    async renamePasskey(userId: string, credentialId: string, name: string): Promise<PasskeyRecord | null> {
      const passkey = core.passkeys.get(userId)?.get(credentialId);
      if (!passkey) return null;
      const renamed = { ...passkey, name };
      core.passkeys.get(userId)!.set(credentialId, renamed);
      return renamed;
    },

    async usePasskey(userId: string, credentialId: string, counter: number): Promise<UsePasskeyResult> {
      const passkey = core.passkeys.get(userId)?.get(credentialId);
      if (!passkey) return { status: "missing" };
      if ((counter > 0 || passkey.counter > 0) && counter <= passkey.counter) return { status: "counter_regressed", passkey };
      const used = { ...passkey, counter, lastUsedAt: core.clock.now() };
      core.passkeys.get(userId)!.set(credentialId, used);
      return { status: "used", passkey: used };
    },

    async saveChallenge(id: string, challenge: WebAuthnChallenge, ttlMs: number): Promise<void> {
      core.challenges.set(id, { challenge, until: core.clock.now() + ttlMs });
    },

    async takeChallenge(id: string): Promise<WebAuthnChallenge | null> {
      const entry = core.challenges.get(id);
      core.challenges.delete(id);
      return entry && entry.until > core.clock.now() ? entry.challenge : null;
    },
  };
}
