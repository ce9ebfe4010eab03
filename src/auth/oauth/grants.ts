import type { OAuthClientStore, OAuthGrantRecord, OAuthModelStore, SessionStore } from "../../store/store";
import { ISSUED_ACCESS_TOKEN } from "../../store/memory/oauth-models";
import type { Audit, AuditOrigin } from "../audit/audit";

/** The most apps one user's list shows; a user has far fewer grants than this. */
const MAX_GRANTS_LISTED = 200;

export type GrantEndReason = "revoked_by_user" | "client_deleted" | "refresh_reuse" | "code_replay";

/** An app the user let sign them in, as `me { authorizedApps }` lists it. */
export interface AuthorizedApp {
  readonly clientId: string;
  readonly name: string;
  readonly scopes: readonly string[];
  /** Epoch ms. */
  readonly grantedAt: number;
}

/**
 * The grants users gave OAuth clients, and how one ends: its refresh tokens and codes at once
 * (oidc-provider finds no grant), its access tokens at every verifier's next check (their jti joins
 * the revocation state, each until it would have expired).
 */
export class OAuthGrants {
  constructor(
    private readonly store: Pick<OAuthModelStore, "findOAuthModel" | "oauthGrantRecords" | "revokeOAuthGrant" | "oauthGrantsOfAccount"> & Pick<OAuthClientStore, "getOAuthClient"> & Pick<SessionStore, "revokeAccessTokens">,
    private readonly audit: Audit | null,
    /** A grant ended: its client gets a back-channel logout for each session it was in (backchannel-logout.ts). */
    private readonly onEnded: (userId: string, clientId: string) => Promise<void> = async () => undefined,
  ) {}

  async end(grantId: string, reason: GrantEndReason, origin?: AuditOrigin): Promise<void> {
    const grant = await this.store.findOAuthModel("Grant", grantId);
    await this.remove(grantId);
    if (grant && typeof grant.accountId === "string") {
      this.audit?.oauthGrantEnded(grant.accountId, String(grant.clientId), reason, origin);
      await this.onEnded(grant.accountId, String(grant.clientId));
    }
  }

  /**
   * Removes a grant and revokes its access tokens, failing closed: their revocation markers are
   * written first, from the records the grant lists, and the grant is removed only then. Removed
   * first, its access tokens would pass /graphql, the verifier and introspection until the markers
   * landed, and for good if the process died in between. An access token issued between the read
   * and the removal comes back with the removed records, and is marked then. Also oidc-provider's
   * own removals (a replayed refresh token, RP-initiated logout) go through here (adapter.ts).
   */
  async remove(grantId: string): Promise<void> {
    const marked = await this.markAccessTokens(await this.store.oauthGrantRecords(grantId));
    const removed = await this.store.revokeOAuthGrant(grantId);
    await this.markAccessTokens(removed.filter(({ model, id }) => model !== ISSUED_ACCESS_TOKEN || !marked.has(id)));
    // The records name the user and client, for a grant oidc-provider removed itself too.
    const ended = new Set(removed.filter(({ payload }) => typeof payload.accountId === "string" && typeof payload.clientId === "string").map(({ payload }) => `${String(payload.accountId)} ${String(payload.clientId)}`));
    for (const pair of ended) await this.onEnded(pair.slice(0, pair.indexOf(" ")), pair.slice(pair.indexOf(" ") + 1));
  }

  /** The access tokens among a grant's records join the revocation state, each until it would have expired; their jtis. */
  private async markAccessTokens(records: readonly OAuthGrantRecord[]): Promise<Set<string>> {
    const byUser = new Map<string, { jti: string; expiresAt: number }[]>();
    for (const { model, id, payload } of records) {
      if (model !== ISSUED_ACCESS_TOKEN) continue;
      const userId = String(payload.accountId);
      byUser.set(userId, [...(byUser.get(userId) ?? []), { jti: id, expiresAt: Number(payload.expiresAt) }]);
    }
    for (const [userId, tokens] of byUser) await this.store.revokeAccessTokens(userId, tokens);
    return new Set([...byUser.values()].flat().map(({ jti }) => jti));
  }

  /** One entry per client (a client may hold more than one grant of the user: the newest counts). */
  async authorizedApps(userId: string): Promise<AuthorizedApp[]> {
    const grants = await this.store.oauthGrantsOfAccount(userId, MAX_GRANTS_LISTED);
    const byClient = new Map<string, AuthorizedApp>();
    for (const grant of grants.sort((a, b) => a.grantedAt - b.grantedAt)) {
      const client = await this.store.getOAuthClient(grant.clientId);
      if (!client) continue;
      byClient.set(grant.clientId, { clientId: grant.clientId, name: client.name, scopes: grant.scope.split(" ").filter(Boolean), grantedAt: grant.grantedAt * 1000 });
    }
    return [...byClient.values()];
  }

  /** revokeAppAccess: ends every grant the user gave the client; false when there was none. */
  async revokeApp(userId: string, clientId: string, origin?: AuditOrigin): Promise<boolean> {
    const grants = (await this.store.oauthGrantsOfAccount(userId, MAX_GRANTS_LISTED)).filter((grant) => grant.clientId === clientId);
    for (const grant of grants) await this.end(grant.grantId, "revoked_by_user", origin);
    return grants.length > 0;
  }
}
