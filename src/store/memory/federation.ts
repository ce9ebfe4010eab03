import type { FederationStateStore, ProviderSession } from "../ports/federation";
import type { MemoryCore } from "./core";

export function memoryFederation(core: MemoryCore): FederationStateStore {
  const now = () => core.clock.now();
  return {
    async saveFlow(id, flow, ttlMs) {
      core.federationFlows.set(id, { flow, until: now() + ttlMs });
    },

    async takeFlow(id, expected) {
      const entry = core.federationFlows.get(id);
      if (!entry || entry.until <= now()) return null;
      if (expected !== undefined && (entry.flow.provider !== expected.provider || entry.flow.state !== expected.state)) return null;
      core.federationFlows.delete(id);
      return entry.flow;
    },

    async recordProviderSession(session, expiresAt, indexing = {}) {
      const entry = `${session.userId} ${session.sessionId}`;
      const keys = indexKeys(session);
      // Checked for every index before any is written: memory's step is atomic anyway.
      if (indexing.startedAt !== undefined) {
        for (const key of keys) {
          const logout = core.providerLogouts.get(key);
          if (logout !== undefined && logout.until > now() && (key.includes("/sid/") || logout.at >= indexing.startedAt)) return false;
        }
      }
      for (const key of keys) {
        const entries = core.providerSessions.get(key) ?? new Map<string, number>();
        entries.set(entry, Math.max(entries.get(entry) ?? 0, expiresAt));
        if (indexing.cap !== undefined && entries.size > indexing.cap) {
          const first = [...entries].filter(([other]) => other !== entry).sort(([, a], [, b]) => a - b).slice(0, entries.size - indexing.cap);
          for (const [dropped] of first) entries.delete(dropped);
        }
        core.providerSessions.set(key, entries);
      }
      return true;
    },

    async forgetProviderSession(session) {
      for (const key of indexKeys(session)) core.providerSessions.get(key)?.delete(`${session.userId} ${session.sessionId}`);
    },

    async markProviderLogout(provider, sid, subject, at, ttlMs) {
      const keys = [...(sid === null ? [] : [`${provider}/sid/${sid}`]), ...(subject === null ? [] : [`${provider}/sub/${subject}`])];
      for (const key of keys) {
        const current = core.providerLogouts.get(key);
        const live = current !== undefined && current.until > now() ? current : undefined;
        core.providerLogouts.set(key, { at: Math.max(live?.at ?? at, at), until: Math.max(live?.until ?? 0, now() + ttlMs) });
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

function indexKeys(session: ProviderSession): string[] {
  return [`${session.provider}/sub/${session.subject}`, ...(session.sid === null ? [] : [`${session.provider}/sid/${session.sid}`])];
}
