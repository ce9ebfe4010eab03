import { keys } from "@revocable-auth/verifier/internal";
import type { FederationFlow, FederationStateStore } from "../ports/federation";
import type { RedisCore } from "./core";

/**
 * Flows and used jtis stand alone (no hash tag): each step is one command, or the one-key take
 * script. A provider's session indexes share its tag, so recording one session in both is one script.
 */
export function redisFederation(core: RedisCore): FederationStateStore {
  return {
    async saveFlow(id, flow, ttlMs) {
      await core.guard(() => core.client.set(keys.federationFlow(id), JSON.stringify(flow), "PX", ttlMs));
    },

    takeFlow(id) {
      // The passkeys' GET-and-DEL script: one key, taken once.
      return core.guard(async () => {
        const raw = (await core.script("takeChallenge", [keys.federationFlow(id)], [])) as string | null;
        return raw === null ? null : (JSON.parse(raw) as FederationFlow);
      });
    },

    async recordProviderSession(session, expiresAt) {
      const indexes = [keys.providerSessions(session.provider, "sub", session.subject), ...(session.sid === null ? [] : [keys.providerSessions(session.provider, "sid", session.sid)])];
      await core.guard(() => core.script("recordProviderSession", [String(indexes.length), ...indexes], [`${session.userId} ${session.sessionId}`, expiresAt]));
    },

    providerSessions(provider, sid, subject) {
      return core.guard(async () => {
        // Entries of expired sessions may linger until the next write; an ended session is ended again as a no-op.
        const members = await core.client.zrangebyscore(sid === null ? keys.providerSessions(provider, "sub", subject) : keys.providerSessions(provider, "sid", sid), `(${Date.now()}`, "+inf");
        return members.map((member) => {
          const [userId, sessionId] = member.split(" ");
          return { userId: userId!, sessionId: sessionId! };
        });
      });
    },

    logoutTokenIdUsed(provider, jti) {
      return core.guard(async () => (await core.client.exists(keys.logoutTokenId(provider, jti))) === 1);
    },

    useLogoutTokenId(provider, jti, ttlMs) {
      return core.guard(async () => (await core.client.set(keys.logoutTokenId(provider, jti), "1", "PX", ttlMs, "NX")) === "OK");
    },
  };
}
