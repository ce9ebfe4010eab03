import type { OAuthClientRecord, OAuthClientStore } from "../ports/oauth-clients";
import { isUniqueViolation, type PostgresCore } from "./core";
import { MS_TO_TIMESTAMP } from "./rows";

const CLIENT_COLUMNS = `client_id, name, redirect_uris, grant_types, scopes, public, backchannel_logout_uri, require_mfa, secret_hash,
  round(extract(epoch FROM created_at) * 1000)::bigint AS created_at`;

interface ClientRow {
  client_id: string;
  name: string;
  redirect_uris: string[];
  grant_types: string[];
  scopes: string[];
  public: boolean;
  backchannel_logout_uri: string | null;
  require_mfa: boolean;
  secret_hash: string | null;
  created_at: string;
}

const toClient = (row: ClientRow): OAuthClientRecord => ({
  clientId: row.client_id,
  name: row.name,
  redirectUris: row.redirect_uris,
  grantTypes: row.grant_types,
  scopes: row.scopes,
  public: row.public,
  backchannelLogoutUri: row.backchannel_logout_uri,
  requireMfa: row.require_mfa,
  secretHash: row.secret_hash,
  createdAt: Number(row.created_at),
});

/** OAuth clients in `oauth_clients` (migrations/002_oauth_clients.sql); nothing here is on the per-request path. */
export function postgresOAuthClients(pg: PostgresCore): OAuthClientStore {
  return {
    createOAuthClient(client) {
      return pg.guard(async () => {
        try {
          const { rowCount } = await pg.pool.query(
            `INSERT INTO oauth_clients (client_id, name, redirect_uris, grant_types, scopes, public, backchannel_logout_uri, require_mfa, secret_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ${MS_TO_TIMESTAMP("$10")}) ON CONFLICT (client_id) DO NOTHING`,
            [client.clientId, client.name, client.redirectUris, client.grantTypes, client.scopes, client.public, client.backchannelLogoutUri, client.requireMfa, client.secretHash, client.createdAt],
          );
          return rowCount === 1;
        } catch (error) {
          if (isUniqueViolation(error)) return false;
          throw error;
        }
      });
    },

    getOAuthClient(clientId) {
      return pg.guard(async () => {
        const { rows } = await pg.pool.query<ClientRow>(`SELECT ${CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = $1`, [clientId]);
        return rows[0] ? toClient(rows[0]) : null;
      });
    },

    listOAuthClients(first, after) {
      return pg.guard(async () => {
        const { rows } = await pg.pool.query<ClientRow>(
          `SELECT ${CLIENT_COLUMNS} FROM oauth_clients WHERE $1::text IS NULL OR client_id > $1 ORDER BY client_id LIMIT $2`,
          [after, first + 1],
        );
        const page = rows.slice(0, first).map(toClient);
        return { clients: page, endCursor: rows.length > first ? page[page.length - 1]!.clientId : null };
      });
    },

    updateOAuthClient(client) {
      return pg.guard(async () => {
        const { rowCount } = await pg.pool.query(
          `UPDATE oauth_clients SET name = $2, redirect_uris = $3, grant_types = $4, scopes = $5, public = $6, backchannel_logout_uri = $7, require_mfa = $8, secret_hash = $9
           WHERE client_id = $1`,
          [client.clientId, client.name, client.redirectUris, client.grantTypes, client.scopes, client.public, client.backchannelLogoutUri, client.requireMfa, client.secretHash],
        );
        return rowCount === 1 ? client : null;
      });
    },

    deleteOAuthClient(clientId) {
      return pg.guard(async () => (await pg.pool.query(`DELETE FROM oauth_clients WHERE client_id = $1`, [clientId])).rowCount === 1);
    },
  };
}
