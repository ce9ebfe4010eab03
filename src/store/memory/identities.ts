import type { IdentityStore } from "../ports/identities";
import type { MemoryCore } from "./core";

export function memoryIdentities(core: MemoryCore): IdentityStore {
  return {
    async linkIdentity(identity) {
      if (core.identities.has(identity.id)) return "taken";
      core.identities.set(identity.id, identity);
      return "linked";
    },

    async findIdentity(provider, subject) {
      return core.identities.get(`${provider}:${subject}`) ?? null;
    },

    async listIdentities(userId) {
      return [...core.identities.values()].filter((identity) => identity.userId === userId).sort((a, b) => a.linkedAt - b.linkedAt);
    },

    async unlinkIdentity(userId, id) {
      if (core.identities.get(id)?.userId !== userId) return "missing";
      if (!core.passwords.get(userId) && (core.passkeys.get(userId)?.size ?? 0) === 0 && core.identitiesOf(userId) <= 1) return "last_credential";
      core.identities.delete(id);
      return "unlinked";
    },
  };
}
