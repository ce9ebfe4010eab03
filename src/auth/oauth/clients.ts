import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import { AuthError, badInput } from "../../errors";
import type { OAuthClientRecord, OAuthClientStore, OAuthModelStore } from "../../store/store";
import type { Clock } from "../../clock";
import type { Audit, AuditActor, AuditOrigin } from "../audit/audit";
import { API_SCOPE, OPENID_SCOPES } from "../tokens/scopes";

/** The grants a client may be registered for: OAuth 2.1's, without implicit and password. */
export const GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"] as const;
/** A resource scope a client may be registered for besides: letters, digits and `:._-`. */
const SCOPE = /^[a-z][a-z0-9:._-]{0,63}$/;
const MAX_NAME = 100;
const MAX_URIS = 10;
const MAX_URI_LENGTH = 2000;
const MAX_SCOPES = 20;
/** A client's grants ended at once when it is deleted; past this, the rest expire on their own (still refused: the client is gone). */
const MAX_GRANTS_ENDED = 10_000;
export const OAUTH_CLIENTS_PAGE_MAX = 100;

export interface OAuthClientInput {
  readonly name: string;
  readonly redirectUris: readonly string[];
  readonly grantTypes: readonly string[];
  readonly scopes: readonly string[];
  readonly public?: boolean | null;
  readonly backchannelLogoutUri?: string | null;
  readonly requireMfa?: boolean | null;
}

/** What the admin gets once: the client's id and, for a confidential client, its secret (never stored). */
export interface IssuedClientSecret {
  readonly clientId: string;
  readonly clientSecret: string | null;
}

/** A secret's stored form: SHA-256, base64url. The secret is 256 random bits, so no slow hash is needed. */
export const secretHash = (secret: string) => hash("sha256", secret, "base64url");

/** Whether `presented` is the secret whose hash is `stored`, in time independent of where they differ. */
export function secretMatches(stored: string, presented: string): boolean {
  const a = Buffer.from(stored, "utf8");
  const b = Buffer.from(secretHash(presented), "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

const newSecret = () => randomBytes(32).toString("base64url");
const notFound = () => new AuthError("NOT_FOUND", "OAUTH_CLIENT_NOT_FOUND", "No such OAuth client");

/**
 * The relying parties of this API as an OAuth provider, administered by ADMIN. Registration rules
 * are OAuth 2.1's: exact redirect URIs (https, or http on a loopback address for native apps), no
 * fragments, no implicit or password grant, client credentials for confidential clients only.
 */
export class OAuthClients {
  constructor(
    private readonly store: OAuthClientStore & Pick<OAuthModelStore, "revokeOAuthGrant" | "oauthGrantIdsOfClient">,
    private readonly clock: Clock,
    private readonly audit: Audit | null,
    /**
     * A client's registration changed or it is gone: awaited before the admin's call returns, so what
     * every instance kept of it (client-cache.ts) is forgotten before the new secret is handed out.
     */
    private readonly changed: (clientId: string) => Promise<void> = async () => undefined,
  ) {}

  async create(actor: AuditActor, input: OAuthClientInput, origin?: AuditOrigin): Promise<IssuedClientSecret> {
    const checked = checkedInput(input);
    const clientId = randomBytes(16).toString("base64url");
    const clientSecret = checked.public ? null : newSecret();
    const record: OAuthClientRecord = { ...checked, clientId, secretHash: clientSecret === null ? null : secretHash(clientSecret), createdAt: this.clock.now() };
    if (!(await this.store.createOAuthClient(record))) throw new Error("a new random client id was taken");
    this.audit?.adminAction(actor, "createOAuthClient", actor.userId, { clientId, public: record.public }, origin);
    return { clientId, clientSecret };
  }

  get(clientId: string): Promise<OAuthClientRecord | null> {
    return this.store.getOAuthClient(clientId);
  }

  list(first: number, after: string | null) {
    if (!Number.isInteger(first) || first < 1 || first > OAUTH_CLIENTS_PAGE_MAX) throw badInput(`first must be 1 to ${OAUTH_CLIENTS_PAGE_MAX}`);
    return this.store.listOAuthClients(first, after);
  }

  /** Replaces the client's registration; its secret and grants stay. */
  async update(actor: AuditActor, clientId: string, input: OAuthClientInput, origin?: AuditOrigin): Promise<OAuthClientRecord> {
    const current = await this.store.getOAuthClient(clientId);
    if (!current) throw notFound();
    const checked = checkedInput(input);
    if (checked.public !== current.public) throw badInput("public cannot change: register a new client");
    const updated = await this.store.updateOAuthClient({ ...current, ...checked });
    if (!updated) throw notFound();
    await this.changed(clientId);
    this.audit?.adminAction(actor, "updateOAuthClient", actor.userId, { clientId }, origin);
    return updated;
  }

  /** A new secret, shown once; the old one stops working at once. */
  async rotateSecret(actor: AuditActor, clientId: string, origin?: AuditOrigin): Promise<IssuedClientSecret> {
    const current = await this.store.getOAuthClient(clientId);
    if (!current) throw notFound();
    if (current.public) throw badInput("A public client has no secret");
    const clientSecret = newSecret();
    if (!(await this.store.updateOAuthClient({ ...current, secretHash: secretHash(clientSecret) }))) throw notFound();
    await this.changed(clientId);
    this.audit?.adminAction(actor, "rotateOAuthClientSecret", actor.userId, { clientId }, origin);
    return { clientId, clientSecret };
  }

  /** Deletes the client and ends its grants: its refresh tokens stop at once, its access tokens at the next check. */
  async delete(actor: AuditActor, clientId: string, endGrant: (grantId: string) => Promise<void>, origin?: AuditOrigin): Promise<boolean> {
    if (!(await this.store.deleteOAuthClient(clientId))) throw notFound();
    await this.changed(clientId);
    const grants = await this.store.oauthGrantIdsOfClient(clientId, MAX_GRANTS_ENDED);
    for (const grantId of grants) await endGrant(grantId);
    this.audit?.adminAction(actor, "deleteOAuthClient", actor.userId, { clientId, grantsEnded: grants.length }, origin);
    return true;
  }
}

function checkedInput(input: OAuthClientInput): Omit<OAuthClientRecord, "clientId" | "secretHash" | "createdAt"> {
  const name = input.name.trim();
  if (name.length < 1 || name.length > MAX_NAME) throw badInput(`name must be 1 to ${MAX_NAME} characters`);
  const isPublic = input.public === true;
  const grantTypes = [...new Set(input.grantTypes)];
  if (grantTypes.length === 0) throw badInput(`grantTypes must name at least one of ${GRANT_TYPES.join(", ")}`);
  for (const grant of grantTypes) {
    if (!(GRANT_TYPES as readonly string[]).includes(grant)) throw badInput(`grantTypes: "${grant}" is not offered (${GRANT_TYPES.join(", ")}; no implicit, no password)`);
  }
  if (grantTypes.includes("refresh_token") && !grantTypes.includes("authorization_code")) throw badInput("grantTypes: refresh_token needs authorization_code");
  if (isPublic && grantTypes.includes("client_credentials")) throw badInput("grantTypes: a public client has no secret, so no client_credentials");
  const redirectUris = [...new Set(input.redirectUris)];
  if (grantTypes.includes("authorization_code") && redirectUris.length === 0) throw badInput("redirectUris: authorization_code needs at least one");
  if (redirectUris.length > MAX_URIS) throw badInput(`redirectUris: at most ${MAX_URIS}`);
  for (const uri of redirectUris) checkUri("redirectUris", uri);
  const backchannelLogoutUri = input.backchannelLogoutUri?.trim() || null;
  if (backchannelLogoutUri !== null) checkUri("backchannelLogoutUri", backchannelLogoutUri);
  const scopes = [...new Set(input.scopes)];
  if (scopes.length > MAX_SCOPES) throw badInput(`scopes: at most ${MAX_SCOPES}`);
  for (const scope of scopes) if (!SCOPE.test(scope)) throw badInput(`scopes: "${scope}" must be lower-case letters, digits and :._- (at most 64)`);
  if (scopes.some((scope) => (OPENID_SCOPES as readonly string[]).includes(scope) || scope === API_SCOPE) && !grantTypes.includes("authorization_code")) {
    throw badInput(`scopes: ${[...OPENID_SCOPES, API_SCOPE].join(", ")} are a user's, and need authorization_code`);
  }
  return { name, redirectUris, grantTypes, scopes, public: isPublic, backchannelLogoutUri, requireMfa: input.requireMfa === true };
}

/** https, or http on a loopback address (RFC 8252 §7.3); no fragment (OAuth 2.1 §2.3.1); no credentials. */
function checkUri(field: string, raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badInput(`${field}: "${raw}" is not an absolute URL`);
  }
  if (raw.length > MAX_URI_LENGTH) throw badInput(`${field}: at most ${MAX_URI_LENGTH} characters`);
  if (url.hash !== "" || raw.includes("#")) throw badInput(`${field}: "${raw}" must not have a fragment`);
  if (url.username !== "" || url.password !== "") throw badInput(`${field}: "${raw}" must not carry credentials`);
  const loopback = url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw badInput(`${field}: "${raw}" must be https (http only on localhost, 127.0.0.1 or [::1])`);
}
