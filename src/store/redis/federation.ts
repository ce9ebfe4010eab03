import { keys } from "@revocable-auth/verifier/internal";
import type { FederationFlow, FederationStateStore, ProviderSession } from "../ports/federation";
import type { RedisCore } from "./core";

/**
 * Flows and used jtis stand alone (no hash tag): each step is one command, or the one-key take
 * script. Each session index has its own tag, shared with its logout marker only: a provider's
 * sessions spread over the Cluster, and each index checks its marker in the step that writes it.
 */
export function redisFederation(core: RedisCore): FederationStateStore {
  return {
    async saveFlow(id, flow, ttlMs) {
      await core.guard(() => core.client.set(keys.federationFlow(id), JSON.stringify(flow), "PX", ttlMs));
    },

    takeFlow(id, expected) {
      // One key, taken once: the passkeys' GET-and-DEL script, or with a state, the one that compares it first.
      return core.guard(async () => {
        const key = keys.federationFlow(id);
        const raw = (expected === undefined ? await core.script("takeChallenge", [key], []) : await core.script("takeFlow", [key], [expected.provider, expected.state])) as string | null;
        return raw === null ? null : (JSON.parse(raw) as FederationFlow);
      });
    },

    recordProviderSession(session, expiresAt, indexing = {}) {
      return core.guard(async () => {
        const member = `${session.userId} ${session.sessionId}`;
        const since = indexing.startedAt === undefined ? "" : String(indexing.startedAt);
        // One script per index, each on its own slot: the subject's first, then the provider session's.
        for (const [by, value] of indexesOf(session)) {
          const recorded = await core.script("recordProviderSession", [keys.providerSessions(session.provider, by, value), keys.providerLogout(session.provider, by, value)], [member, expiresAt, since, by, indexing.cap ?? 0]);
          if (recorded !== 1) return false;
        }
        return true;
      });
    },

    async forgetProviderSession(session) {
      const member = `${session.userId} ${session.sessionId}`;
      await core.guard(() => Promise.all(indexesOf(session).map(([by, value]) => core.client.zrem(keys.providerSessions(session.provider, by, value), member))));
    },

    async markProviderLogout(provider, sid, subject, at, ttlMs) {
      const marked: ["sid" | "sub", string][] = [...(sid === null ? [] : [["sid", sid] as ["sid", string]]), ...(subject === null ? [] : [["sub", subject] as ["sub", string]])];
      await core.guard(() => Promise.all(marked.map(([by, value]) => core.durableScript("markProviderLogout", [keys.providerLogout(provider, by, value)], [at, ttlMs]))));
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

/** The indexes a session is in: its subject's, and its provider session's when the provider sent a `sid`. */
function indexesOf(session: ProviderSession): ["sid" | "sub", string][] {
  return [["sub", session.subject], ...(session.sid === null ? [] : [["sid", session.sid] as ["sid", string]])];
}
