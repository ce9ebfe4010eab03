import { CLIENT_KEPT_MS, CLIENTS_KEPT, OAuthClientCache } from "../../src/auth/oauth/client-cache";
import { secretHash } from "../../src/auth/oauth/clients";
import { MemoryStore } from "../../src/store/memory/memory-store";
import type { OAuthClientRecord, OAuthClientStore } from "../../src/store/store";

// The provider's client reads, kept in memory (client-cache.ts), on the embedded store: what it
// reads from the directory, and when it reads again.
let now = Date.UTC(2026, 11, 7);
const clock = { now: () => now };

const client = (clientId: string, secret = "a-client-secret"): OAuthClientRecord => ({
  clientId, name: `App ${clientId}`, redirectUris: ["https://app.example.com/cb"], grantTypes: ["authorization_code"], scopes: ["openid"],
  public: false, backchannelLogoutUri: null, requireMfa: false, secretHash: secretHash(secret), createdAt: now,
});

/** The embedded store as the directory, counting the reads that reach it. */
function directory() {
  const store = new MemoryStore(clock);
  const reads: string[] = [];
  const counted: Pick<OAuthClientStore, "getOAuthClient"> = { getOAuthClient: (id) => (reads.push(id), store.getOAuthClient(id)) };
  return { store, reads, counted };
}

describe("the provider's client cache", () => {
  it("reads a client from the directory once, then from memory until CLIENT_KEPT_MS has passed", async () => {
    const { store, reads, counted } = directory();
    await store.createOAuthClient(client("app"));
    const cache = new OAuthClientCache(counted, clock);
    expect((await cache.getOAuthClient("app"))?.name).toBe("App app");
    expect((await cache.getOAuthClient("app"))?.name).toBe("App app");
    expect(reads).toEqual(["app"]);
    await store.updateOAuthClient({ ...client("app"), name: "Renamed" });
    now += CLIENT_KEPT_MS;
    expect((await cache.getOAuthClient("app"))?.name).toBe("Renamed");
    expect(reads).toEqual(["app", "app"]);
  });

  it("reads a forgotten client again at once: a rotated secret is the one checked", async () => {
    const { store, counted } = directory();
    await store.createOAuthClient(client("app", "old"));
    const cache = new OAuthClientCache(counted, clock);
    expect((await cache.getOAuthClient("app"))?.secretHash).toBe(secretHash("old"));
    await store.updateOAuthClient(client("app", "new"));
    cache.forget("app");
    expect((await cache.getOAuthClient("app"))?.secretHash).toBe(secretHash("new"));
    await store.deleteOAuthClient("app");
    cache.forgetAll();
    expect(await cache.getOAuthClient("app")).toBeNull();
  });

  it("does not keep what a read begun before a forget returned", async () => {
    const { store } = directory();
    await store.createOAuthClient(client("app", "old"));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow: Pick<OAuthClientStore, "getOAuthClient"> = { getOAuthClient: async (id) => { const record = await store.getOAuthClient(id); await held; return record; } };
    const cache = new OAuthClientCache(slow, clock);
    const racing = cache.getOAuthClient("app");
    await store.updateOAuthClient(client("app", "new"));
    cache.forget("app");
    release();
    expect((await racing)?.secretHash).toBe(secretHash("old"));
    expect((await cache.getOAuthClient("app"))?.secretHash).toBe(secretHash("new"));
  });

  it("keeps no answer for an id nobody registered, so unknown ids cannot fill it", async () => {
    const { reads, counted } = directory();
    const cache = new OAuthClientCache(counted, clock);
    expect(await cache.getOAuthClient("nobody")).toBeNull();
    expect(await cache.getOAuthClient("nobody")).toBeNull();
    expect(reads).toEqual(["nobody", "nobody"]);
  });

  it(`keeps at most ${CLIENTS_KEPT} clients, the oldest leaving first`, async () => {
    const { store, reads, counted } = directory();
    const cache = new OAuthClientCache(counted, clock);
    for (let i = 0; i <= CLIENTS_KEPT; i++) await store.createOAuthClient(client(`app-${i}`));
    for (let i = 0; i <= CLIENTS_KEPT; i++) await cache.getOAuthClient(`app-${i}`);
    reads.length = 0;
    await cache.getOAuthClient(`app-${CLIENTS_KEPT}`);
    await cache.getOAuthClient("app-0");
    expect(reads).toEqual(["app-0"]);
  });
});
