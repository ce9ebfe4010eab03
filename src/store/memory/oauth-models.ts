import type { OAuthGrantRecord, OAuthGrantSummary, OAuthModelPayload, OAuthModelStore } from "../ports/oauth-models";
import type { MemoryCore } from "./core";

/**
 * Not one of oidc-provider's models: the record of a JWT access token it issued (which it keeps
 * none of), under its grant, so that ending the grant revokes the token at every verifier.
 */
export const ISSUED_ACCESS_TOKEN = "IssuedAccessToken";

/** oidc-provider gives no lifetime for a few records (a Client it never writes here); Redis keeps those a day too. */
export const OAUTH_DEFAULT_TTL_SECONDS = 24 * 3600;

/**
 * oidc-provider's records in this process. The look-ups by uid, user code, grant, account and
 * client scan the map: the embedded store is for one instance and a development load.
 */
export function memoryOAuthModels(core: MemoryCore): OAuthModelStore {
  const now = () => core.clock.now();
  const live = () => [...core.oauthModels].filter(([, entry]) => entry.until > now());
  const find = (model: string, matches: (payload: OAuthModelPayload) => boolean) =>
    live().find(([key, { payload }]) => key.startsWith(`${model}/`) && matches(payload))?.[1].payload;
  const grants = (matches: (payload: OAuthModelPayload) => boolean) =>
    live().filter(([key, { payload }]) => key.startsWith("Grant/") && matches(payload));
  return {
    async saveOAuthModel(model, id, payload, expiresInSeconds) {
      core.oauthModels.set(`${model}/${id}`, { payload: { ...payload }, until: now() + (expiresInSeconds ?? OAUTH_DEFAULT_TTL_SECONDS) * 1000 });
    },

    async findOAuthModel(model, id) {
      const entry = core.oauthModels.get(`${model}/${id}`);
      return entry && entry.until > now() ? entry.payload : undefined;
    },

    async findOAuthModelByUid(model, uid) {
      return find(model, (payload) => payload.uid === uid);
    },

    async findOAuthModelByUserCode(model, userCode) {
      return find(model, (payload) => payload.userCode === userCode);
    },

    async consumeOAuthModel(model, id, atSeconds) {
      const entry = core.oauthModels.get(`${model}/${id}`);
      if (!entry || entry.until <= now() || entry.payload.consumed !== undefined) return false;
      entry.payload = { ...entry.payload, consumed: atSeconds };
      return true;
    },

    async destroyOAuthModel(model, id) {
      core.oauthModels.delete(`${model}/${id}`);
    },

    async oauthGrantRecords(grantId) {
      return live()
        .filter(([key, { payload }]) => payload.grantId === grantId && !key.startsWith("Grant/"))
        .map(([key, { payload }]) => ({ model: key.slice(0, key.indexOf("/")), id: key.slice(key.indexOf("/") + 1), payload }));
    },

    async revokeOAuthGrant(grantId) {
      const removed: OAuthGrantRecord[] = [];
      for (const [key, { payload, until }] of core.oauthModels) {
        if (payload.grantId !== grantId && key !== `Grant/${grantId}`) continue;
        core.oauthModels.delete(key);
        const slash = key.indexOf("/");
        if (until > now() && key !== `Grant/${grantId}`) removed.push({ model: key.slice(0, slash), id: key.slice(slash + 1), payload });
      }
      return removed;
    },

    async oauthGrantsOfAccount(accountId, limit) {
      return grants((payload) => payload.accountId === accountId).slice(0, limit).map(([key, { payload }]) => grantSummary(key.slice("Grant/".length), payload));
    },

    async oauthGrantIdsOfClient(clientId, limit) {
      return grants((payload) => payload.clientId === clientId).slice(0, limit).map(([key]) => key.slice("Grant/".length));
    },
  };
}

/** The fields of oidc-provider's Grant the list of authorized apps shows. */
export function grantSummary(grantId: string, payload: OAuthModelPayload): OAuthGrantSummary {
  const openid = payload.openid as { scope?: string } | undefined;
  const resources = (payload.resources ?? {}) as Record<string, string>;
  const scopes = new Set([...(openid?.scope ?? "").split(" "), ...Object.values(resources).flatMap((scope) => scope.split(" "))].filter(Boolean));
  return {
    grantId,
    accountId: String(payload.accountId),
    clientId: String(payload.clientId),
    scope: [...scopes].join(" "),
    grantedAt: typeof payload.iat === "number" ? payload.iat : 0,
  };
}
