import { keys } from "@revocable-auth/verifier/internal";
import { grantSummary, ISSUED_ACCESS_TOKEN, OAUTH_DEFAULT_TTL_SECONDS } from "../memory/oauth-models";
import type { OAuthGrantRecord, OAuthModelPayload, OAuthModelStore } from "../ports/oauth-models";
import type { RedisCore } from "./core";

/** Models whose records oidc-provider ties to a grant; removing the grant removes them. */
const GRANTED = new Set(["AccessToken", "AuthorizationCode", "RefreshToken", "DeviceCode", "BackchannelAuthenticationRequest", "ClientCredentials", ISSUED_ACCESS_TOKEN]);

/**
 * oidc-provider's records, one key each (a hash: the payload, and `consumed`), with the lifetime
 * oidc-provider gives. No hash tags: every step is one command on one key, a MULTI on one key, or
 * the one-key consume script, so it works alike on one Redis and on a Cluster. The indexes (uid,
 * user code, a grant's records, a user's and a client's grants) are keys of their own, each living
 * as long as the longest record it lists (PEXPIRE NX, then GT); an index entry whose record has
 * expired finds nothing.
 */
export function redisOAuthModels(core: RedisCore): OAuthModelStore {
  const { client } = core;
  /** Adds `member` to an index set, which then lives at least `ms` more (NX gives a new set its lifetime, GT lengthens an older one's). */
  const index = (key: string, member: string, ms: number) => client.multi().sadd(key, member).pexpire(key, ms, "NX").pexpire(key, ms, "GT").exec();
  const read = async (key: string): Promise<OAuthModelPayload | undefined> => {
    const { payload, consumed } = await client.hgetall(key);
    if (payload === undefined) return undefined;
    const parsed = JSON.parse(payload) as Record<string, unknown>;
    return consumed === undefined ? parsed : { ...parsed, consumed: Number(consumed) };
  };
  const byIndex = (model: string, index: "uid" | "user-code", value: string) =>
    core.guard(async () => {
      const id = await client.get(keys.oauthModelBy(model, index, value));
      return id === null ? undefined : read(keys.oauthModel(model, id));
    });
  return {
    async saveOAuthModel(model, id, payload, expiresInSeconds) {
      const ms = (expiresInSeconds ?? OAUTH_DEFAULT_TTL_SECONDS) * 1000;
      const key = keys.oauthModel(model, id);
      await core.guard(async () => {
        await client.multi().del(key).hset(key, "payload", JSON.stringify(payload)).pexpire(key, ms).exec();
        const indexes: Promise<unknown>[] = [];
        const grantId = payload.grantId;
        if (GRANTED.has(model) && typeof grantId === "string") {
          indexes.push(index(keys.oauthGrantRecords(grantId), `${model} ${id}`, ms));
        }
        if (model === "Grant") {
          const { accountId, clientId } = payload;
          if (typeof accountId === "string") indexes.push(index(keys.oauthAccountGrants(accountId), id, ms));
          if (typeof clientId === "string") indexes.push(index(keys.oauthClientGrants(clientId), id, ms));
        }
        if (typeof payload.uid === "string") indexes.push(client.set(keys.oauthModelBy(model, "uid", payload.uid), id, "PX", ms));
        if (typeof payload.userCode === "string") indexes.push(client.set(keys.oauthModelBy(model, "user-code", payload.userCode), id, "PX", ms));
        await Promise.all(indexes);
      });
    },

    findOAuthModel(model, id) {
      return core.guard(() => read(keys.oauthModel(model, id)));
    },

    findOAuthModelByUid(model, uid) {
      return byIndex(model, "uid", uid);
    },

    findOAuthModelByUserCode(model, userCode) {
      return byIndex(model, "user-code", userCode);
    },

    consumeOAuthModel(model, id, atSeconds) {
      return core.guard(async () => (await core.script("consumeOAuthModel", [keys.oauthModel(model, id)], [atSeconds])) === 1);
    },

    async destroyOAuthModel(model, id) {
      await core.guard(() => client.del(keys.oauthModel(model, id)));
    },

    oauthGrantRecords(grantId) {
      return core.guard(async () => {
        const members = await client.smembers(keys.oauthGrantRecords(grantId));
        const records = await Promise.all(members.map(async (member): Promise<OAuthGrantRecord | null> => {
          const [model, id] = member.split(" ") as [string, string];
          const payload = await read(keys.oauthModel(model, id));
          return payload === undefined ? null : { model, id, payload };
        }));
        return records.filter((record): record is OAuthGrantRecord => record !== null);
      });
    },

    revokeOAuthGrant(grantId) {
      return core.guard(async () => {
        // The Grant first: every token oidc-provider checks names its grant, so none works past this line.
        const grant = await read(keys.oauthModel("Grant", grantId));
        await client.del(keys.oauthModel("Grant", grantId));
        const members = await client.smembers(keys.oauthGrantRecords(grantId));
        const removed = await Promise.all(members.map(async (member): Promise<OAuthGrantRecord | null> => {
          const [model, id] = member.split(" ") as [string, string];
          const payload = await read(keys.oauthModel(model, id));
          await client.del(keys.oauthModel(model, id));
          return payload === undefined ? null : { model, id, payload };
        }));
        await client.del(keys.oauthGrantRecords(grantId));
        if (grant && typeof grant.accountId === "string") await client.srem(keys.oauthAccountGrants(grant.accountId), grantId);
        if (grant && typeof grant.clientId === "string") await client.srem(keys.oauthClientGrants(grant.clientId), grantId);
        return removed.filter((record): record is OAuthGrantRecord => record !== null);
      });
    },

    oauthGrantsOfAccount(accountId, limit) {
      return core.guard(async () => {
        const ids = (await client.smembers(keys.oauthAccountGrants(accountId))).slice(0, limit);
        const grants = await Promise.all(ids.map(async (id) => [id, await read(keys.oauthModel("Grant", id))] as const));
        return grants.filter(([, payload]) => payload !== undefined).map(([id, payload]) => grantSummary(id, payload!));
      });
    },

    oauthGrantIdsOfClient(clientId, limit) {
      return core.guard(async () => (await client.smembers(keys.oauthClientGrants(clientId))).slice(0, limit));
    },
  };
}
