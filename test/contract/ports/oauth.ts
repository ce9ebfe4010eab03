import { randomUUID } from "node:crypto";
import type { OAuthClientRecord, OAuthClientStore, OAuthModelStore } from "../../../src/store/store";
import type { ContractHarness } from "./harness";

/** oidc-provider's records (OAuthModelStore): what its adapter needs, and the indexes this API adds. */
export function oauthModelsContract(harness: () => ContractHarness<OAuthModelStore>) {
  let h: ContractHarness<OAuthModelStore>, store: OAuthModelStore;
  beforeAll(() => void ({ store } = h = harness()));

  describe("OAuth provider records", () => {
    it("keeps a record for its lifetime, replaced whole by a new write, then forgets it", async () => {
      const id = randomUUID();
      await store.saveOAuthModel("AuthorizationCode", id, { grantId: "g", scope: "openid", nested: { a: [1] } }, 1);
      expect(await store.findOAuthModel("AuthorizationCode", id)).toEqual({ grantId: "g", scope: "openid", nested: { a: [1] } });
      await store.saveOAuthModel("AuthorizationCode", id, { scope: "email" }, 1);
      expect(await store.findOAuthModel("AuthorizationCode", id)).toEqual({ scope: "email" });
      expect(await store.findOAuthModel("RefreshToken", id)).toBeUndefined();
      await h.advance(1100);
      expect(await store.findOAuthModel("AuthorizationCode", id)).toBeUndefined();
    });

    it("finds a record by uid and by user code", async () => {
      const [id, uid, userCode] = [randomUUID(), randomUUID(), randomUUID()];
      await store.saveOAuthModel("Session", id, { uid, userCode, accountId: "u" }, 60);
      expect(await store.findOAuthModelByUid("Session", uid)).toMatchObject({ accountId: "u" });
      expect(await store.findOAuthModelByUserCode("Session", userCode)).toMatchObject({ accountId: "u" });
      expect(await store.findOAuthModelByUid("Session", randomUUID())).toBeUndefined();
      await store.destroyOAuthModel("Session", id);
      expect(await store.findOAuthModelByUid("Session", uid)).toBeUndefined();
    });

    it("lets one of racing redemptions consume a record, and none a missing one", async () => {
      const id = randomUUID();
      await store.saveOAuthModel("RefreshToken", id, { grantId: "g" }, 60);
      const results = await Promise.all([1, 2, 3].map(() => store.consumeOAuthModel("RefreshToken", id, 1000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.findOAuthModel("RefreshToken", id)).toEqual({ grantId: "g", consumed: 1000 });
      expect(await store.consumeOAuthModel("RefreshToken", randomUUID(), 1000)).toBe(false);
    });

    it("reads the records issued under a grant and leaves them, and the Grant, in place", async () => {
      const [grantId, code, token, other] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await store.saveOAuthModel("Grant", grantId, { accountId: randomUUID(), clientId: "app", iat: 100 }, 60);
      await store.saveOAuthModel("AuthorizationCode", code, { grantId }, 60);
      await store.saveOAuthModel("IssuedAccessToken", token, { grantId, accountId: "u", expiresAt: 1 }, 1);
      await store.saveOAuthModel("RefreshToken", other, { grantId: randomUUID() }, 60);
      const read = await store.oauthGrantRecords(grantId);
      expect(read.map(({ model, id }) => `${model} ${id}`).sort()).toEqual([`AuthorizationCode ${code}`, `IssuedAccessToken ${token}`].sort());
      expect(read.find(({ id }) => id === token)?.payload).toEqual({ grantId, accountId: "u", expiresAt: 1 });
      expect(await store.findOAuthModel("Grant", grantId)).toBeDefined();
      expect(await store.findOAuthModel("IssuedAccessToken", token)).toBeDefined();
      // An expired record is not listed; a grant without records lists none.
      await h.advance(1100);
      expect((await store.oauthGrantRecords(grantId)).map(({ id }) => id)).toEqual([code]);
      expect(await store.oauthGrantRecords(randomUUID())).toEqual([]);
    });

    it("revokes a grant: the Grant and every record under it go, and are handed back", async () => {
      const [grantId, code, token, other] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const accountId = randomUUID();
      await store.saveOAuthModel("Grant", grantId, { accountId, clientId: "app", openid: { scope: "openid email" }, iat: 100 }, 60);
      await store.saveOAuthModel("AuthorizationCode", code, { grantId }, 60);
      await store.saveOAuthModel("IssuedAccessToken", token, { grantId, accountId, expiresAt: 1 }, 60);
      await store.saveOAuthModel("RefreshToken", other, { grantId: randomUUID() }, 60);
      expect(await store.oauthGrantsOfAccount(accountId, 10)).toEqual([{ grantId, accountId, clientId: "app", scope: "openid email", grantedAt: 100 }]);
      expect(await store.oauthGrantIdsOfClient("app", 1000)).toContain(grantId);
      const removed = await store.revokeOAuthGrant(grantId);
      expect(removed.map(({ model, id }) => `${model} ${id}`).sort()).toEqual([`AuthorizationCode ${code}`, `IssuedAccessToken ${token}`].sort());
      expect(await store.findOAuthModel("Grant", grantId)).toBeUndefined();
      expect(await store.findOAuthModel("AuthorizationCode", code)).toBeUndefined();
      expect(await store.findOAuthModel("RefreshToken", other)).toBeDefined();
      expect(await store.oauthGrantsOfAccount(accountId, 10)).toEqual([]);
      expect(await store.oauthGrantIdsOfClient("app", 1000)).not.toContain(grantId);
    });
  });
}

/** The registered OAuth clients (OAuthClientStore): directory state. */
export function oauthClientsContract(harness: () => ContractHarness<OAuthClientStore>) {
  let store: OAuthClientStore;
  beforeAll(() => void ({ store } = harness()));
  const client = (overrides: Partial<OAuthClientRecord> = {}): OAuthClientRecord => ({
    clientId: `c-${randomUUID()}`,
    name: "App",
    redirectUris: ["https://app.example.com/cb"],
    grantTypes: ["authorization_code", "refresh_token"],
    scopes: ["openid", "api"],
    public: false,
    backchannelLogoutUri: null,
    requireMfa: false,
    secretHash: "hash",
    createdAt: 1_700_000_000_000,
    ...overrides,
  });

  describe("OAuth clients", () => {
    it("creates a client once, reads, updates and deletes it", async () => {
      const record = client({ backchannelLogoutUri: "https://app.example.com/bc", requireMfa: true });
      expect(await store.createOAuthClient(record)).toBe(true);
      expect(await store.createOAuthClient(record)).toBe(false);
      expect(await store.getOAuthClient(record.clientId)).toEqual(record);
      const renamed = { ...record, name: "Renamed", secretHash: "other" };
      expect(await store.updateOAuthClient(renamed)).toEqual(renamed);
      expect(await store.getOAuthClient(record.clientId)).toEqual(renamed);
      expect(await store.deleteOAuthClient(record.clientId)).toBe(true);
      expect(await store.deleteOAuthClient(record.clientId)).toBe(false);
      expect(await store.getOAuthClient(record.clientId)).toBeNull();
      expect(await store.updateOAuthClient(renamed)).toBeNull();
    });

    it("lists clients by id, a page at a time, with a public one's null secret", async () => {
      const prefix = `p-${randomUUID()}`;
      const records = [client({ clientId: `${prefix}-b` }), client({ clientId: `${prefix}-a`, public: true, secretHash: null }), client({ clientId: `${prefix}-c` })];
      for (const record of records) await store.createOAuthClient(record);
      const seen: string[] = [];
      let after: string | null = `${prefix}`;
      for (let page = 0; page < 5; page++) {
        const { clients, endCursor } = await store.listOAuthClients(2, after);
        seen.push(...clients.map((entry) => entry.clientId).filter((id) => id.startsWith(prefix)));
        if (endCursor === null || !endCursor.startsWith(prefix)) break;
        after = endCursor;
      }
      expect(seen).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
      expect((await store.getOAuthClient(`${prefix}-a`))?.secretHash).toBeNull();
    });
  });
}
