import type { OAuthClientStore } from "../ports/oauth-clients";
import type { MemoryCore } from "./core";

export function memoryOAuthClients(core: MemoryCore): OAuthClientStore {
  return {
    async createOAuthClient(client) {
      if (core.oauthClients.has(client.clientId)) return false;
      core.oauthClients.set(client.clientId, client);
      return true;
    },

    async getOAuthClient(clientId) {
      return core.oauthClients.get(clientId) ?? null;
    },

    async listOAuthClients(first, after) {
      const ids = [...core.oauthClients.keys()].sort().filter((id) => after === null || id > after);
      const page = ids.slice(0, first).map((id) => core.oauthClients.get(id)!);
      return { clients: page, endCursor: ids.length > first ? page[page.length - 1]!.clientId : null };
    },

    async updateOAuthClient(client) {
      if (!core.oauthClients.has(client.clientId)) return null;
      core.oauthClients.set(client.clientId, client);
      return client;
    },

    async deleteOAuthClient(clientId) {
      return core.oauthClients.delete(clientId);
    },
  };
}
