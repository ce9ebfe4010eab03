/**
 * The Redis key layout, in one place, shared by the auth API and every verifier (documented in docs/revocation.md).
 *
 * Everything about one user shares the hash tag `{u:<userId>}`, so each per-user operation —
 * the per-request check, login, refresh rotation, logout — touches a single Redis Cluster slot
 * and can be one MGET, MULTI or Lua script. The email index and the user list live under the
 * `{directory}` tag; registering is the only operation that spans both, in two ordered steps.
 */
const PREFIX = "auth";

const userTag = (userId: string) => `${PREFIX}:{u:${userId}}`;

export const keys = {
  user: (userId: string) => `${userTag(userId)}:user`,
  /**
   * The compact access record the auth API's per-request check reads instead of the JSON record:
   * `1|<access version>|<disabled><mfaEnabled><emailVerified>|<createdAt>|<roles,>|<email>`, written in
   * the same step as every change of the record (docs/revocation.md#the-access-record).
   */
  accessRecord: (userId: string) => `${userTag(userId)}:access-record`,
  password: (userId: string) => `${userTag(userId)}:password`,
  session: (userId: string, sessionId: string) => `${userTag(userId)}:session:${sessionId}`,
  sessions: (userId: string) => `${userTag(userId)}:sessions`,
  cutoff: (userId: string) => `${userTag(userId)}:cutoff`,
  revokedAccessToken: (userId: string, jti: string) => `${userTag(userId)}:revoked:${jti}`,
  /**
   * A DPoP proof's jti, seen once by a token of the user (docs/security.md#dpop): on the user's slot,
   * so the replay check is written in the same script as the revocation read, by the auth API and
   * every verifier alike. It lives as long as the proof could be accepted.
   */
  dpopProof: (userId: string, proofJti: string) => `${userTag(userId)}:dpop:${proofJti}`,
  /** The second factor (docs/mfa.md): secrets sealed before they get here, recovery codes hashed. */
  totp: (userId: string) => `${userTag(userId)}:totp`,
  totpEnrolment: (userId: string) => `${userTag(userId)}:totp-enrolment`,
  totpFailures: (userId: string) => `${userTag(userId)}:totp-failures`,
  recoveryCodes: (userId: string) => `${userTag(userId)}:recovery-codes`,
  /** The user's passkeys: a hash of credential id → passkey record (JSON). */
  passkeys: (userId: string) => `${userTag(userId)}:passkeys`,
  /** The one live token of a mailed link per purpose (password_reset, email_verification, email_change): its hash. */
  mailToken: (userId: string, purpose: string) => `${userTag(userId)}:mail-token:${purpose}`,
  email: (email: string) => `${PREFIX}:{directory}:email:${email}`,
  users: () => `${PREFIX}:{directory}:users`,
  /** Ids of the enabled admins: the LAST_ADMIN guard. */
  enabledAdmins: () => `${PREFIX}:{directory}:admins`,
  /** The user's audit trail, a stream on the user's own slot (docs/operations.md#the-audit-trail). */
  auditEvents: (userId: string) => `${userTag(userId)}:audit`,
  /** Failed or refused steps of callers who have not proven to be the user (failed sign-ins, reset requests, wrong codes): read with the one above. */
  auditAttempts: (userId: string) => `${userTag(userId)}:audit:attempts`,
  /** Every audit event, a stream on a slot of its own. */
  auditAll: () => `${PREFIX}:{audit}:events`,
  /**
   * User id → `{ roles, disabled, v }`: the source of truth for who is an enabled admin. Every change
   * of roles or the disabled flag is decided here first, then copied to the user record (docs/revocation.md).
   */
  access: () => `${PREFIX}:{directory}:access`,
  /** The `v` of the last access change copied into the user record; an older one is never applied over it. */
  accessVersion: (userId: string) => `${userTag(userId)}:access-version`,
  /** The auth API's key-set version (keySetVersion of its kids); verifiers read it at most once a second. */
  keySet: () => `${PREFIX}:{directory}:keyset`,
  /** A provider sign-in in flight (src/auth/federation): its state, nonce and PKCE verifier, by the id in the browser's cookie; it expires. */
  federationFlow: (id: string) => `${PREFIX}:oidc-flow:${id}`,
  /** A back-channel logout token's jti, kept until the token expires: each is used once. */
  logoutTokenId: (provider: string, jti: string) => `${PREFIX}:oidc-logout-jti:${provider}:${jti}`,
  /**
   * The sessions a provider session (its `sid`), or a provider subject, started here: a sorted set
   * of `userId sessionId` by the session's expiry, moved on at each refresh. Each index has its own
   * hash tag (its own Cluster slot), shared only with its logout marker.
   */
  providerSessions: (provider: string, by: "sid" | "sub", value: string) => `${PREFIX}:{oidc:${provider}:${by}:${value}}:sessions`,
  /** A back-channel logout of that provider session or subject, received at the value (epoch ms): it refuses sign-ins started before. */
  providerLogout: (provider: string, by: "sid" | "sub", value: string) => `${PREFIX}:{oidc:${provider}:${by}:${value}}:logout`,
  /** Which user a provider identity signs in as: `provider`, `subject` → user id (directory). */
  identityOwner: (provider: string, subject: string) => `${PREFIX}:{directory}:identity:${provider}:${subject}`,
  /** The user's linked identities: a hash of identity id → record (JSON). */
  identities: (userId: string) => `${userTag(userId)}:identities`,
  /** Which user holds a passkey, by credential id: how a discoverable sign-in finds the user. */
  passkeyOwner: (credentialId: string) => `${PREFIX}:{directory}:passkey:${credentialId}`,
  /** A WebAuthn challenge waiting for its response, by the SHA-256 of the challenge; it expires. */
  webauthnChallenge: (id: string) => `${PREFIX}:webauthn-challenge:${id}`,
  /** One of oidc-provider's records (src/auth/oauth): a hash of `payload` (JSON) and `consumed`; it expires. */
  oauthModel: (model: string, id: string) => `${PREFIX}:oauth:${model}:${id}`,
  /** A record's id by its uid (oidc-provider's Session) or its user code. */
  oauthModelBy: (model: string, index: "uid" | "user-code", value: string) => `${PREFIX}:oauth-${index}:${model}:${value}`,
  /** The records issued under one grant (`model id`), so removing the grant removes them all. */
  oauthGrantRecords: (grantId: string) => `${PREFIX}:oauth-grant:${grantId}`,
  /** The user's OAuth grants (ids), for their list of authorized apps. */
  oauthAccountGrants: (userId: string) => `${userTag(userId)}:oauth-grants`,
  /** A client's grants (ids), ended when the client is deleted. */
  oauthClientGrants: (clientId: string) => `${PREFIX}:oauth-client-grants:${clientId}`,
  /** A registered OAuth client (JSON), directory state. */
  oauthClient: (clientId: string) => `${PREFIX}:{directory}:oauth-client:${clientId}`,
  /** Every client id, for the admin listing (a sorted set, all scores 0: ordered by id). */
  oauthClients: () => `${PREFIX}:{directory}:oauth-clients`,
  /** Throttling counters (rate-limiter-flexible appends `:<key>`); each is a key of its own. */
  throttle: (limiter: string) => `${PREFIX}:throttle:${limiter}`,
};
