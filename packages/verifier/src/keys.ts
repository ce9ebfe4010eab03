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
  password: (userId: string) => `${userTag(userId)}:password`,
  session: (userId: string, sessionId: string) => `${userTag(userId)}:session:${sessionId}`,
  sessions: (userId: string) => `${userTag(userId)}:sessions`,
  cutoff: (userId: string) => `${userTag(userId)}:cutoff`,
  revokedAccessToken: (userId: string, jti: string) => `${userTag(userId)}:revoked:${jti}`,
  /** The one live token of a mailed link per purpose (password_reset, email_verification, email_change): its hash. */
  mailToken: (userId: string, purpose: string) => `${userTag(userId)}:mail-token:${purpose}`,
  email: (email: string) => `${PREFIX}:{directory}:email:${email}`,
  users: () => `${PREFIX}:{directory}:users`,
  /** Ids of the enabled admins: the LAST_ADMIN guard. */
  enabledAdmins: () => `${PREFIX}:{directory}:admins`,
  /** Throttling counters (rate-limiter-flexible appends `:<key>`); each is a key of its own. */
  throttle: (limiter: string) => `${PREFIX}:throttle:${limiter}`,
};
