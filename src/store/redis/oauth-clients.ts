import { keys } from "@revocable-auth/verifier/internal";
import type { OAuthClientRecord, OAuthClientStore } from "../ports/oauth-clients";
import type { RedisCore } from "./core";

/** The clients on the `{directory}` slot: the record and the id index change together, in one MULTI. */
export function redisOAuthClients(core: RedisCore): OAuthClientStore {
  const { client } = core;
  const parse = (raw: string | null) => (raw === null ? null : (JSON.parse(raw) as OAuthClientRecord));
  return {
    createOAuthClient(record) {
      return core.guard(async () => {
        const result = await client.multi().set(keys.oauthClient(record.clientId), JSON.stringify(record), "NX").zadd(keys.oauthClients(), 0, record.clientId).exec();
        return result?.[0]?.[1] === "OK";
      });
    },

    getOAuthClient(clientId) {
      return core.guard(async () => parse(await client.get(keys.oauthClient(clientId))));
    },

    listOAuthClients(first, after) {
      return core.guard(async () => {
        const ids = await client.zrangebylex(keys.oauthClients(), after === null ? "-" : `(${after}`, "+", "LIMIT", 0, first + 1);
        const page = ids.slice(0, first);
        const records = page.length === 0 ? [] : (await client.mget(page.map((id) => keys.oauthClient(id)))).map(parse).filter((record): record is OAuthClientRecord => record !== null);
        return { clients: records, endCursor: ids.length > first ? page[page.length - 1]! : null };
      });
    },

    updateOAuthClient(record) {
      return core.guard(async () => ((await client.set(keys.oauthClient(record.clientId), JSON.stringify(record), "XX")) === "OK" ? record : null));
    },

    deleteOAuthClient(clientId) {
      return core.guard(async () => {
        const result = await client.multi().del(keys.oauthClient(clientId)).zrem(keys.oauthClients(), clientId).exec();
        return result?.[0]?.[1] === 1;
      });
    },
  };
}
