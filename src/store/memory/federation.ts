import type { FederationStateStore } from "../ports/federation";
import type { MemoryCore } from "./core";

export function memoryFederation(core: MemoryCore): FederationStateStore {
  const now = () => core.clock.now();
  return {
    async saveFlow(id, flow, ttlMs) {
      core.federationFlows.set(id, { flow, until: now() + ttlMs });
    },

    async takeFlow(id) {
      const entry = core.federationFlows.get(id);
      core.federationFlows.delete(id);
      return entry && entry.until > now() ? entry.flow : null;
    },

    async recordProviderSession(session, expiresAt) {
      const entry = `${session.userId} ${session.sessionId}`;
      const keys = [`${session.provider}/sub/${session.subject}`, ...(session.sid === null ? [] : [`${session.provider}/sid/${session.sid}`])];
      for (const key of keys) {
        const entries = core.providerSessions.get(key) ?? new Map<string, number>();
        entries.set(entry, Math.max(entries.get(entry) ?? 0, expiresAt));
        core.providerSessions.set(key, entries);
      }
    },

    async providerSessions(provider, sid, subject) {
      const entries = core.providerSessions.get(sid === null ? `${provider}/sub/${subject}` : `${provider}/sid/${sid}`) ?? new Map<string, number>();
      return [...entries].filter(([, until]) => until > now()).map(([entry]) => {
        const [userId, sessionId] = entry.split(" ");
        return { userId: userId!, sessionId: sessionId! };
      });
    },

    async logoutTokenIdUsed(provider, jti) {
      const until = core.logoutTokenIds.get(`${provider}/${jti}`);
      return until !== undefined && until > now();
    },

    async useLogoutTokenId(provider, jti, ttlMs) {
      const key = `${provider}/${jti}`;
      const until = core.logoutTokenIds.get(key);
      if (until !== undefined && until > now()) return false;
      core.logoutTokenIds.set(key, now() + ttlMs);
      return true;
    },
  };
}
