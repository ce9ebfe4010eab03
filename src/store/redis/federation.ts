import { keys } from "@revocable-auth/verifier/internal";
import type { FederationFlow, FederationStateStore } from "../ports/federation";
import type { RedisCore } from "./core";

/** Each key stands alone (no hash tag): every step here is one command, or the one-key take script. */
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

    async recordProviderSession(session, ttlMs) {
      const entry = `${session.userId} ${session.sessionId}`;
      const sets = [keys.providerSessions(session.provider, "sub", session.subject), ...(session.sid === null ? [] : [keys.providerSessions(session.provider, "sid", session.sid)])];
      // A set lives as long as its newest session: older members outlive theirs, and ending an ended session is a no-op.
      // NX gives a new set its lifetime, GT lengthens an older one's (Redis 7).
      await core.guard(() => Promise.all(sets.map((key) => core.client.multi().sadd(key, entry).pexpire(key, ttlMs, "NX").pexpire(key, ttlMs, "GT").exec())));
    },

    providerSessions(provider, sid, subject) {
      return core.guard(async () => {
        const members = await core.client.smembers(sid === null ? keys.providerSessions(provider, "sub", subject) : keys.providerSessions(provider, "sid", sid));
        return members.map((member) => {
          const [userId, sessionId] = member.split(" ");
          return { userId: userId!, sessionId: sessionId! };
        });
      });
    },

    useLogoutTokenId(provider, jti, ttlMs) {
      return core.guard(async () => (await core.client.set(keys.logoutTokenId(provider, jti), "1", "PX", ttlMs, "NX")) === "OK");
    },
  };
}
