import { isLiveSession } from "../store";
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
      const identity = core.identities.get(id);
      if (identity?.userId !== userId) return { status: "missing" };
      if (!core.passwords.get(userId) && (core.passkeys.get(userId)?.size ?? 0) === 0 && core.identitiesOf(userId) <= 1) return { status: "last_credential" };
      core.identities.delete(id);
      const cutoff = core.cutoff(userId);
      const sessions = core.sessionsOf(userId);
      const sessionIds: string[] = [];
      for (const [sessionId, session] of [...sessions]) {
        if (session.federation?.provider !== identity.provider || session.federation.subject !== identity.subject) continue;
        if (isLiveSession(core.session(userId, sessionId), cutoff)) sessionIds.push(sessionId);
        sessions.delete(sessionId);
      }
      return { status: "unlinked", sessionIds };
    },
  };
}
