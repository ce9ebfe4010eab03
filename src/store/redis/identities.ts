import { keys } from "@revocable-auth/verifier/internal";
import type { IdentityStore, LinkedIdentity } from "../ports/identities";
import type { RedisCore } from "./core";

/**
 * How long a claim on `{directory}` may stand without its record in the user's hash before it is
 * taken for one an unlink left behind: linkIdentity writes the record right after the claim, a
 * few milliseconds later, so a younger claim is a link in progress and is left alone.
 */
const UNRECORDED_CLAIM_MS = 10_000;

/**
 * Two slots, in order, as for a passkey: the claim of the provider subject on `{directory}` first
 * (SET NX: the one that wins links), then the record in the user's own hash. Unlinking goes the
 * other way round, so a subject is never claimed without a record for longer than one step; and a
 * claim is believed only with its record (findIdentity), so a failure between the two steps leaves
 * no identity that signs in unlisted and cannot be unlinked.
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
        const owner = keys.identityOwner(provider, subject);
        const raw = await core.client.get(owner);
        if (raw === null) return null;
        const identity = JSON.parse(raw) as LinkedIdentity;
        if ((await core.client.hexists(keys.identities(identity.userId), identity.id)) === 1) return identity;
        // The user's record is gone: an unlink whose second step (releasing this claim) failed. The
        // claim goes now, unless it is young (a link between its two steps), and only if unchanged.
        if (Date.now() - identity.linkedAt > UNRECORDED_CLAIM_MS) await core.script("releaseIdentityClaim", [owner], [raw]);
        return null;
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
        const scriptKeys = [keys.identities(userId), keys.password(userId), keys.passkeys(userId), keys.sessions(userId), keys.cutoff(userId), keys.session(userId, "")];
        // Durable: it ends sessions, as any revocation.
        const [status, raw, ...sessionIds] = (await core.durableScript("unlinkIdentity", scriptKeys, [id])) as [string, string?, ...string[]];
        if (status !== "unlinked") return { status: status as "missing" | "last_credential" };
        const identity = JSON.parse(raw!) as LinkedIdentity;
        await core.script("releaseIdentityClaim", [keys.identityOwner(identity.provider, identity.subject)], [raw!]);
        return { status: "unlinked", sessionIds };
      });
    },
  };
}
