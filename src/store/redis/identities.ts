import { keys } from "@revocable-auth/verifier/internal";
import type { IdentityStore, LinkedIdentity } from "../ports/identities";
import type { RedisCore } from "./core";

/**
 * Two slots, in order, as for a passkey: the claim of the provider subject on `{directory}` first
 * (SET NX: the one that wins links), then the record in the user's own hash. Unlinking goes the
 * other way round, so a subject is never claimed without a record for longer than one step.
 */
export function redisIdentities(core: RedisCore): IdentityStore {
  return {
    linkIdentity(identity) {
      return core.guard(async () => {
        const claimed = await core.client.set(keys.identityOwner(identity.provider, identity.subject), JSON.stringify(identity), "NX");
        if (claimed !== "OK") return "taken";
        await core.client.hset(keys.identities(identity.userId), identity.id, JSON.stringify(identity));
        return "linked";
      });
    },

    findIdentity(provider, subject) {
      return core.guard(async () => {
        const raw = await core.client.get(keys.identityOwner(provider, subject));
        return raw === null ? null : (JSON.parse(raw) as LinkedIdentity);
      });
    },

    listIdentities(userId) {
      return core.guard(async () => {
        const all = Object.values(await core.client.hgetall(keys.identities(userId))).map((raw) => JSON.parse(raw) as LinkedIdentity);
        return all.sort((a, b) => a.linkedAt - b.linkedAt);
      });
    },

    unlinkIdentity(userId, id) {
      return core.guard(async () => {
        const [status, raw] = (await core.script("unlinkIdentity", [keys.identities(userId), keys.password(userId), keys.passkeys(userId)], [id])) as [string, string?];
        if (status !== "unlinked") return status as "missing" | "last_credential";
        const identity = JSON.parse(raw!) as LinkedIdentity;
        await core.client.del(keys.identityOwner(identity.provider, identity.subject));
        return "unlinked";
      });
    },
  };
}
