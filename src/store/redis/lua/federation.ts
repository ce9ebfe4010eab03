import { fragment, NOW_MS, script } from "./fragments";

/** Provider sign-in's hot state: each script on one provider's slot (KEYS share `{oidc:<provider>}`). */

const INDEX_SESSION = fragment(`
local function index_session(key, member, expires_at, now)
  -- GT moves an entry only later, and still adds a new one.
  redis.call('ZADD', key, 'GT', expires_at, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', key, tonumber(last[2])) end
end
`);

/**
 * KEYS: the subject's index, then the provider session's (sid) index when there is one. ARGV:
 * `userId sessionId`, the session's expiry (epoch ms). An entry only ever moves later: a refresh
 * carries it on, an older write never shortens it; entries of expired sessions go.
 */
export const recordProviderSession = script(null, [NOW_MS, INDEX_SESSION], `
local now = now_ms()
for _, key in ipairs(KEYS) do index_session(key, ARGV[1], tonumber(ARGV[2]), now) end
return 1
`);
