/**
 * Lua scripts for the multi-key changes, each atomic on one hash-tagged slot. Times that order
 * sessions (createdAt, the cutoff) come from Redis' own clock, so instances with skewed clocks
 * still agree on what "log out everywhere" ended.
 */

const NOW_MS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

const TRACK_SESSION = `
local function track_session(sessions_key, session_id, expires_at, now)
  redis.call('ZADD', sessions_key, expires_at, session_id)
  redis.call('ZREMRANGEBYSCORE', sessions_key, '-inf', now)
  local last = redis.call('ZRANGE', sessions_key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', sessions_key, tonumber(last[2])) end
end
`;

/**
 * Ends the oldest live sessions (by createdAt) beyond `max`, never `keep`. Session keys share the
 * user's hash tag, so they are built from the one passed in. Reads each tracked session once: the
 * cap keeps that at most max + 1.
 */
const END_OLDEST = `
local function end_oldest(sessions_key, session_key, keep, cutoff, max)
  local ended = {}
  local ids = redis.call('ZRANGE', sessions_key, 0, -1)
  if #ids <= max then return ended end
  local prefix = string.sub(session_key, 1, #session_key - #keep)
  local live = {}
  for _, id in ipairs(ids) do
    local raw = redis.call('GET', prefix .. id)
    local created = raw and cjson.decode(raw).createdAt
    if not created or created <= cutoff then
      redis.call('ZREM', sessions_key, id)
    elseif id ~= keep then
      table.insert(live, {id, created})
    end
  end
  table.sort(live, function(a, b) return a[2] < b[2] end)
  for i = 1, #live + 1 - max do
    redis.call('DEL', prefix .. live[i][1])
    redis.call('ZREM', sessions_key, live[i][1])
    table.insert(ended, live[i][1])
  end
  return ended
end
`;

/**
 * KEYS: user, session, sessions, cutoff, password. ARGV: new session as JSON (without times but
 * expiresAt), the most live sessions a user may hold ('' for no cap), the password hash the login
 * checked ('' for none).
 */
export const createSession = {
  numberOfKeys: 5,
  lua: `${NOW_MS}${TRACK_SESSION}${END_OLDEST}
local user = redis.call('GET', KEYS[1])
if not user then return {'user_missing'} end
if cjson.decode(user).disabled then return {'user_disabled'} end
-- A password changed while this login checked the old one: changePassword ended the others already.
if ARGV[3] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[3] then return {'credentials_changed'} end
local session = cjson.decode(ARGV[1])
local now = now_ms()
local cutoff = tonumber(redis.call('GET', KEYS[4]) or '0')
-- A session begun right after "log out everywhere" must outlive that cutoff, even within one ms.
local created = math.max(now, cutoff + 1)
session.createdAt = created
session.lastUsedAt = created
redis.call('SET', KEYS[2], cjson.encode(session), 'PXAT', session.expiresAt)
track_session(KEYS[3], session.id, session.expiresAt, now)
local evicted = {}
if ARGV[2] ~= '' then evicted = end_oldest(KEYS[3], KEYS[2], session.id, cutoff, tonumber(ARGV[2])) end
return {'created', cjson.encode(session), unpack(evicted)}
`,
};

/**
 * KEYS: user, session, sessions, cutoff. ARGV: session id, presented jti, next jti, next expiresAt,
 * next issuedAt, grace ms. The jti the last rotation replaced, presented again less than grace ms
 * later, gets that rotation's outcome again and changes nothing; any other stale jti is reuse.
 */
export const rotateSession = {
  numberOfKeys: 4,
  lua: `${NOW_MS}${TRACK_SESSION}
local raw = redis.call('GET', KEYS[2])
if not raw then return {'ended'} end
local session = cjson.decode(raw)
local user = redis.call('GET', KEYS[1])
local cutoff = tonumber(redis.call('GET', KEYS[4]) or '0')
local function finish(status)
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return {status}
end
if (not user) or cjson.decode(user).disabled or session.createdAt <= cutoff then return finish('ended') end
local now = now_ms()
if session.refreshJti ~= ARGV[2] then
  local last = session.rotation
  -- A clock that stepped back fails closed: the replay counts as reuse.
  if type(last) == 'table' and last.previousJti == ARGV[2] and now >= last.at and now - last.at < tonumber(ARGV[6]) then
    return {'grace', raw, user}
  end
  -- A refresh token that was already rotated out is being replayed: end the whole session.
  return finish('reused')
end
session.rotation = { previousJti = ARGV[2], at = now, issuedAt = tonumber(ARGV[5]) }
session.refreshJti = ARGV[3]
session.lastUsedAt = now
session.expiresAt = tonumber(ARGV[4])
redis.call('SET', KEYS[2], cjson.encode(session), 'PXAT', session.expiresAt)
track_session(KEYS[3], ARGV[1], session.expiresAt, now)
return {'rotated', cjson.encode(session), user}
`,
};

/** KEYS: session, sessions, cutoff, revoked jti. ARGV: session id, revoked jti's expiresAt or ''. */
export const endSession = {
  numberOfKeys: 4,
  lua: `${NOW_MS}
local now = now_ms()
if ARGV[2] ~= '' and tonumber(ARGV[2]) > now then
  redis.call('SET', KEYS[4], '1', 'PXAT', ARGV[2])
end
local raw = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not raw then return 0 end
local cutoff = tonumber(redis.call('GET', KEYS[3]) or '0')
if cjson.decode(raw).createdAt <= cutoff then return 0 end
return 1
`,
};

/**
 * KEYS: sessions, cutoff. One write ends every session: the cutoff. It must outlive every session
 * it ends, so its expiry is the later of its current one and the newest session expiry.
 */
const END_ALL = `
local function end_all(sessions_key, cutoff_key)
  local now = now_ms()
  local live = redis.call('ZCOUNT', sessions_key, '(' .. now, '+inf')
  local expires_at = now + 1000
  local last = redis.call('ZRANGE', sessions_key, -1, -1, 'WITHSCORES')
  if last[2] then expires_at = math.max(expires_at, tonumber(last[2])) end
  local ttl = redis.call('PTTL', cutoff_key)
  if ttl > 0 then expires_at = math.max(expires_at, now + ttl) end
  -- Never move the cutoff back (a clock step after a failover), or ended sessions would revive.
  local at = math.max(now, tonumber(redis.call('GET', cutoff_key) or '0'))
  redis.call('SET', cutoff_key, at, 'PXAT', expires_at)
  redis.call('DEL', sessions_key)
  return live
end
`;

export const endAllSessions = {
  numberOfKeys: 2,
  lua: `${NOW_MS}${END_ALL}
return end_all(KEYS[1], KEYS[2])
`,
};

/** KEYS: user, sessions, cutoff. ARGV: '1' to disable, '0' to enable. Returns the user JSON. */
export const setUserDisabled = {
  numberOfKeys: 3,
  lua: `${NOW_MS}${END_ALL}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local user = cjson.decode(raw)
user.disabled = ARGV[1] == '1'
local encoded = cjson.encode(user)
redis.call('SET', KEYS[1], encoded)
if user.disabled then end_all(KEYS[2], KEYS[3]) end
return encoded
`,
};

/**
 * KEYS: email, users. ARGV: user id, createdAt. Claims the email; 0 when taken. The write that can
 * fail on a wrong type (ZADD) goes first, so a failed claim writes nothing.
 */
export const claimEmail = {
  numberOfKeys: 2,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])
return 1
`,
};

/**
 * KEYS: sessions, cutoff, password, the kept session, then every other session of the user.
 * ARGV: kept session id, new password hash or '', then the other session ids in KEYS' order.
 * With a hash, nothing changes unless the kept session is live (returns -1), and sessions begun
 * since the ids were read end too. Returns how many of the others were live. The key count varies, so callers pass it first (no numberOfKeys).
 */
export const endOtherSessions = {
  lua: `
local cutoff = tonumber(redis.call('GET', KEYS[2]) or '0')
local function live(key)
  local raw = redis.call('GET', key)
  return raw and cjson.decode(raw).createdAt > cutoff
end
if ARGV[2] ~= '' then
  if not live(KEYS[4]) then return -1 end
  redis.call('SET', KEYS[3], ARGV[2])
end
local ended = 0
for i = 5, #KEYS do
  if live(KEYS[i]) then ended = ended + 1 end
  redis.call('DEL', KEYS[i])
  redis.call('ZREM', KEYS[1], ARGV[i - 2])
end
if ARGV[2] ~= '' then
  -- A login that checked the old password may have begun a session after the ids were read; one
  -- that has not begun yet is refused by createSession's password check. Same hash tag, as in end_oldest.
  local prefix = string.sub(KEYS[4], 1, #KEYS[4] - #ARGV[1])
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if id ~= ARGV[1] then
      if live(prefix .. id) then ended = ended + 1 end
      redis.call('DEL', prefix .. id)
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
return ended
`,
};

/** KEYS: user. ARGV: roles as a JSON array. Returns the user JSON, or false when missing. */
export const setUserRoles = {
  numberOfKeys: 1,
  lua: `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local user = cjson.decode(raw)
user.roles = cjson.decode(ARGV[1])
local encoded = cjson.encode(user)
redis.call('SET', KEYS[1], encoded)
return encoded
`,
};

/**
 * KEYS: the enabled-admin index. ARGV: user id, '1' to keep at least one. Removes the user unless
 * that would leave nobody else; 0 when refused. One script, so two admins demoting each other on
 * two instances cannot both succeed.
 */
export const removeEnabledAdmin = {
  numberOfKeys: 1,
  lua: `
local member = redis.call('SISMEMBER', KEYS[1], ARGV[1])
if ARGV[2] == '1' and redis.call('SCARD', KEYS[1]) - member < 1 then return 0 end
redis.call('SREM', KEYS[1], ARGV[1])
return 1
`,
};

/**
 * KEYS: email, users. ARGV: the user id the claim must still name. Frees a claim whose user record
 * expired before it was kept (a register that failed between its two steps).
 */
export const releaseEmail = {
  numberOfKeys: 2,
  lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`,
};

/**
 * KEYS: users (scored by createdAt). ARGV: how many, the cursor's createdAt or '', its id.
 * Returns the total and up to ARGV[1] + 1 ids after the cursor in (score, id) order; the extra one
 * tells whether there is a next page. The start is found with ZRANK, O(log n), and ties in
 * score are ordered by member bytes, as in compareUserPositions. (Lua's own string comparison
 * follows the server's locale, so it is not used.) Users are never deleted; were the cursor's user
 * gone, the page would start after every user of its millisecond.
 */
export const pageUsers = {
  numberOfKeys: 1,
  readOnly: true,
  lua: `
local start = 0
if ARGV[2] ~= '' then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[3])
  if score and tonumber(score) == tonumber(ARGV[2]) then
    start = redis.call('ZRANK', KEYS[1], ARGV[3]) + 1
  else
    start = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[2])
  end
end
local ids = redis.call('ZRANGE', KEYS[1], start, start + tonumber(ARGV[1]))
return {redis.call('ZCARD', KEYS[1]), ids}
`,
};

export const scripts = {
  createSession,
  rotateSession,
  endSession,
  endAllSessions,
  setUserDisabled,
  claimEmail,
  endOtherSessions,
  setUserRoles,
  removeEnabledAdmin,
  releaseEmail,
  pageUsers,
};
