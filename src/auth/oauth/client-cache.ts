import type { Clock } from "../../clock";
import type { OAuthClientRecord, OAuthClientStore } from "../../store/store";

/**
 * How long a client's record is kept without word of a change. Changes are announced on the live
 * channel (every instance forgets the client at once); this bounds what a lost announcement costs.
 */
export const CLIENT_KEPT_MS = 30_000;
/** Clients are registered by an admin: a deployment has tens. A bound all the same. */
export const CLIENTS_KEPT = 1_000;

/**
 * The OAuth clients that the provider's hot paths read (client authentication at introspection,
 * the token endpoint and revocation), kept in memory so that introspecting an active token costs
 * one Redis round trip: its revocation state. Keycloak caches its clients the same way, with
 * invalidation across the cluster.
 *
 * Only clients that exist are kept: an id nobody registered always asks the directory, so a caller
 * cannot fill the cache. A change (update, secret rotation, deletion) is forgotten here before the
 * admin's call returns, and on every other instance when the announcement arrives; a subscriber
 * that reconnected may have missed some, so it forgets everything (`forgetAll`).
 */
export class OAuthClientCache implements Pick<OAuthClientStore, "getOAuthClient"> {
  private readonly kept = new Map<string, { readonly record: OAuthClientRecord; readonly until: number }>();
  /** Moves on at every forget: a read that began before one does not keep what it read. */
  private generation = 0;

  constructor(
    private readonly directory: Pick<OAuthClientStore, "getOAuthClient">,
    private readonly clock: Clock,
  ) {}

  async getOAuthClient(clientId: string): Promise<OAuthClientRecord | null> {
    const kept = this.kept.get(clientId);
    if (kept !== undefined && kept.until > this.clock.now()) return kept.record;
    const generation = this.generation;
    const record = await this.directory.getOAuthClient(clientId);
    if (record === null) {
      this.kept.delete(clientId);
    } else if (generation === this.generation) {
      if (!this.kept.has(clientId) && this.kept.size >= CLIENTS_KEPT) this.kept.delete(this.kept.keys().next().value!);
      this.kept.set(clientId, { record, until: this.clock.now() + CLIENT_KEPT_MS });
    }
    return record;
  }

  forget(clientId: string): void {
    this.generation++;
    this.kept.delete(clientId);
  }

  forgetAll(): void {
    this.generation++;
    this.kept.clear();
  }
}
