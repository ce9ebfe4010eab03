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
 * Ends the oldest live sessions (by createdAt) of one kind beyond `max`, never `keep`: full ones
 * (`pending` false) or those waiting for their second factor (`pending` true); the other kind is
 * neither counted nor ended. Session keys share the user's hash tag, so they are built from the one
 * passed in. Reads each tracked session once: the two caps keep that at most both maxima + 1.
 */
const END_OLDEST = `
local function end_oldest(sessions_key, session_key, keep, cutoff, max, pending)
  local ended = {}
  local ids = redis.call('ZRANGE', sessions_key, 0, -1)
  if #ids <= max then return ended end
  local prefix = string.sub(session_key, 1, #session_key - #keep)
  local live = {}
  for _, id in ipairs(ids) do
    local raw = redis.call('GET', prefix .. id)
    local session = raw and cjson.decode(raw)
    local created = session and session.createdAt
    if not created or created <= cutoff then
      redis.call('ZREM', sessions_key, id)
    elseif id ~= keep and (session.pending == true) == pending then
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
 * KEYS: user, session, sessions, cutoff, password, passkeys. ARGV: new session as JSON (without
 * times but expiresAt), the most live full sessions a user may hold ('' for no cap), the password
 * hash the login checked ('' for none), the passkey that signed in ('' for none), then the pending
 * limits: the latest a pending session lives (epoch ms) and the most pending ones ('' for none).
 * An aal1 session of a user with a second factor on starts pending: it is capped among the
 * pending ones only, so it never ends, nor counts against, a full session.
 */
export const createSession = {
  numberOfKeys: 6,
  lua: `${NOW_MS}${TRACK_SESSION}${END_OLDEST}
local user = redis.call('GET', KEYS[1])
if not user then return {'user_missing'} end
user = cjson.decode(user)
if user.disabled then return {'user_disabled'} end
-- A password changed while this login checked the old one: changePassword ended the others already.
if ARGV[3] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[3] then return {'credentials_changed'} end
-- A passkey removed while its sign-in was being checked starts nothing.
if ARGV[4] ~= '' and redis.call('HEXISTS', KEYS[6], ARGV[4]) == 0 then return {'credentials_changed'} end
local session = cjson.decode(ARGV[1])
local pending = ARGV[5] ~= '' and user.mfaEnabled == true and session.assurance.aal ~= 'aal2'
if pending then
  session.pending = true
  session.expiresAt = math.min(session.expiresAt, tonumber(ARGV[5]))
end
local now = now_ms()
local cutoff = tonumber(redis.call('GET', KEYS[4]) or '0')
-- A session begun right after "log out everywhere" must outlive that cutoff, even within one ms.
local created = math.max(now, cutoff + 1)
session.createdAt = created
session.lastUsedAt = created
redis.call('SET', KEYS[2], cjson.encode(session), 'PXAT', session.expiresAt)
track_session(KEYS[3], session.id, session.expiresAt, now)
local evicted = {}
if pending then
  evicted = end_oldest(KEYS[3], KEYS[2], session.id, cutoff, tonumber(ARGV[6]), true)
elseif ARGV[2] ~= '' then
  evicted = end_oldest(KEYS[3], KEYS[2], session.id, cutoff, tonumber(ARGV[2]), false)
end
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
-- A refresh never lengthens a pending session: only the step-up makes it a full one.
if session.pending then
  session.expiresAt = math.min(session.expiresAt, tonumber(ARGV[4]))
else
  session.expiresAt = tonumber(ARGV[4])
end
redis.call('SET', KEYS[2], cjson.encode(session), 'PXAT', session.expiresAt)
track_session(KEYS[3], ARGV[1], session.expiresAt, now)
return {'rotated', cjson.encode(session), user}
`,
};

/**
 * KEYS: user, session, sessions, cutoff. ARGV: session id, assurance as JSON, next jti, next
 * expiresAt, the most live full sessions a user may hold ('' for no cap), authenticatedAt (the
 * API's clock; never moved back). Raises a live session and starts a new refresh-token family: the
 * rotation record goes, so neither the current refresh token nor the one before it gets anything
 * from the session again. A pending session becomes a full one, and the cap of full sessions ends
 * the oldest beyond it. Returns {'raised', session, user, '1' when it was pending else '0', ended ids...}.
 */
export const stepUpSession = {
  numberOfKeys: 4,
  lua: `${NOW_MS}${TRACK_SESSION}${END_OLDEST}
local raw = redis.call('GET', KEYS[2])
if not raw then return {'ended'} end
local session = cjson.decode(raw)
local user = redis.call('GET', KEYS[1])
local cutoff = tonumber(redis.call('GET', KEYS[4]) or '0')
if (not user) or cjson.decode(user).disabled or session.createdAt <= cutoff then return {'ended'} end
local now = now_ms()
local upgraded = session.pending == true
session.pending = nil
session.assurance = cjson.decode(ARGV[2])
session.authenticatedAt = math.max(tonumber(session.authenticatedAt or 0), tonumber(ARGV[6]))
session.rotation = nil
session.refreshJti = ARGV[3]
session.lastUsedAt = now
session.expiresAt = tonumber(ARGV[4])
redis.call('SET', KEYS[2], cjson.encode(session), 'PXAT', session.expiresAt)
track_session(KEYS[3], ARGV[1], session.expiresAt, now)
local evicted = {}
if upgraded and ARGV[5] ~= '' then evicted = end_oldest(KEYS[3], KEYS[2], ARGV[1], cutoff, tonumber(ARGV[5]), false) end
return {'raised', cjson.encode(session), user, upgraded and '1' or '0', unpack(evicted)}
`,
};

/**
 * KEYS: user, session, sessions, cutoff. ARGV: authenticatedAt (the API's clock). Stamps a live
 * session as recently authenticated, never moving the stamp back; its expiry stays.
 */
export const markSessionAuthenticated = {
  numberOfKeys: 4,
  lua: `
local raw = redis.call('GET', KEYS[2])
if not raw then return 0 end
local session = cjson.decode(raw)
local user = redis.call('GET', KEYS[1])
local cutoff = tonumber(redis.call('GET', KEYS[4]) or '0')
if (not user) or cjson.decode(user).disabled or session.createdAt <= cutoff then return 0 end
session.authenticatedAt = math.max(tonumber(session.authenticatedAt or 0), tonumber(ARGV[1]))
redis.call('SET', KEYS[2], cjson.encode(session), 'PXAT', session.expiresAt)
return 1
`,
};

/**
 * KEYS: session, sessions, cutoff, revoked jti. ARGV: session id, revoked jti's expiresAt or ''.
 * Returns the session's JSON when it was live (its device names it in the ended event), else nil.
 */
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
if not raw then return false end
local cutoff = tonumber(redis.call('GET', KEYS[3]) or '0')
if cjson.decode(raw).createdAt <= cutoff then return false end
return raw
`,
};

/**
 * KEYS: sessions, cutoff, the pending email change. One write ends every session: the cutoff. It
 * must outlive every session it ends, so its expiry is the later of its current one and the newest
 * session expiry. A pending email change dies with the sessions (one of them asked for it).
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
  numberOfKeys: 3,
  lua: `${NOW_MS}${END_ALL}
redis.call('DEL', KEYS[3])
return end_all(KEYS[1], KEYS[2])
`,
};

/**
 * Step one of an access change, on the {directory} slot, where every such change of every user is
 * ordered. KEYS: access, enabled admins. ARGV: user id, the user's roles and disabled flag as the
 * record holds them (used only when the directory has no entry yet), the change as JSON
 * (`roles` and/or `disabled`), '1' to refuse leaving no enabled admin. Returns {'last_admin'} or
 * {'changed', state JSON with its version `v`}. The index follows the state in the same step.
 */
export const decideAccess = {
  numberOfKeys: 2,
  lua: `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local state = cjson.decode(raw or ARGV[2])
state.v = tonumber(state.v or 0)
local function is_admin(s)
  if s.disabled then return false end
  for _, role in ipairs(s.roles) do if role == 'ADMIN' then return true end end
  return false
end
local was = is_admin(state)
local change = cjson.decode(ARGV[3])
if change.roles ~= nil then state.roles = change.roles end
if change.disabled ~= nil then state.disabled = change.disabled end
local now = is_admin(state)
if was and not now and ARGV[4] == '1' then
  if redis.call('SCARD', KEYS[2]) - redis.call('SISMEMBER', KEYS[2], ARGV[1]) < 1 then return {'last_admin'} end
end
if now then redis.call('SADD', KEYS[2], ARGV[1]) else redis.call('SREM', KEYS[2], ARGV[1]) end
state.v = state.v + 1
local encoded = cjson.encode(state)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
return {'changed', encoded}
`,
};

/**
 * Step two, on the user's slot: copies a decided state into the record unless a later one is
 * there already, so steps arriving out of order (two instances) still leave the latest. A disabling
 * state ends every session even when late: it was decided, and ending sessions is never wrong
 * after it, and so does cancelling a pending email change. KEYS: user, sessions, cutoff, access
 * version, the pending email change. ARGV: the state JSON. Returns the record JSON, or false when
 * the user is missing.
 */
export const applyAccess = {
  numberOfKeys: 5,
  lua: `${NOW_MS}${END_ALL}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local state = cjson.decode(ARGV[1])
local user = cjson.decode(raw)
local applied = tonumber(redis.call('GET', KEYS[4]) or '0')
if state.v > applied then
  user.roles = state.roles
  user.disabled = state.disabled
  raw = cjson.encode(user)
  redis.call('SET', KEYS[1], raw)
  redis.call('SET', KEYS[4], state.v)
end
if state.disabled then
  end_all(KEYS[2], KEYS[3])
  redis.call('DEL', KEYS[5])
end
return raw
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
 * KEYS: sessions, cutoff, password, the kept session, the pending email change, then every other
 * session of the user. ARGV: kept session id, new password hash or '', then the other session ids
 * in KEYS' order. With a hash, nothing changes unless the kept session is live (returns -1),
 * sessions begun since the ids were read end too, and a pending email change is cancelled. Returns how many of the others were live. The key count varies, so callers pass it first (no numberOfKeys).
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
  redis.call('DEL', KEYS[5])
end
local ended = 0
for i = 6, #KEYS do
  if live(KEYS[i]) then ended = ended + 1 end
  redis.call('DEL', KEYS[i])
  redis.call('ZREM', KEYS[1], ARGV[i - 3])
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

/**
 * Appends one audit entry (ARGV[3..]: field, value, ...) to `key` under `id` and trims the stream,
 * approximately, to ARGV[1] entries and ARGV[2] ms of age, so each write costs O(1). The key itself
 * expires that long after its newest entry, so a quiet user's trail goes away whole.
 */
const APPEND_AUDIT = `${NOW_MS}
local function append_audit(key, id)
  local max_age = tonumber(ARGV[2])
  local added = redis.call('XADD', key, 'MAXLEN', '~', ARGV[1], id, unpack(ARGV, 3))
  redis.call('XTRIM', key, 'MINID', '~', now_ms() - max_age)
  redis.call('PEXPIRE', key, max_age)
  return added
end
`;

/** Appends one audit entry to KEYS[1], the global stream, under an id Redis makes. */
const appendAuditEvent = {
  numberOfKeys: 1,
  lua: `${APPEND_AUDIT}
return append_audit(KEYS[1], '*')
`,
};

/**
 * Appends one audit entry to a user's stream KEYS[1] (ARGV as appendAuditEvent's), under an id
 * above the last one either of the user's streams (KEYS[1], KEYS[2]) ever made: ids are unique
 * across the two, so a page of both is ordered, and resumed, by id alone.
 */
const appendUserAuditEvent = {
  numberOfKeys: 2,
  lua: `${APPEND_AUDIT}
local function last_made(key)
  if redis.call('EXISTS', key) == 0 then return 0, -1 end
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      local ms, seq = string.match(info[i + 1], '^(%d+)-(%d+)$')
      return tonumber(ms), tonumber(seq)
    end
  end
  return 0, -1
end
local ms, seq = now_ms(), 0
for _, key in ipairs(KEYS) do
  local last_ms, last_seq = last_made(key)
  if last_ms > ms or (last_ms == ms and last_seq >= seq) then ms, seq = last_ms, last_seq + 1 end
end
return append_audit(KEYS[1], string.format('%.0f-%.0f', ms, seq))
`,
};

/**
 * KEYS: user, TOTP enrolment, TOTP, failures, recovery codes. ARGV: the sealed secret the
 * enrolment must still hold, the accepted step, then the recovery-code hashes.
 */
export const enableTotp = {
  numberOfKeys: 5,
  lua: `
local raw = redis.call('GET', KEYS[1])
if not raw then return 'user_missing' end
local user = cjson.decode(raw)
if user.mfaEnabled then return 'already_enabled' end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'no_enrolment' end
redis.call('SET', KEYS[3], cjson.encode({ sealedSecret = ARGV[1], lastStep = tonumber(ARGV[2]) }))
redis.call('DEL', KEYS[2], KEYS[4], KEYS[5])
for i = 3, #ARGV do redis.call('SADD', KEYS[5], ARGV[i]) end
user.mfaEnabled = true
redis.call('SET', KEYS[1], cjson.encode(user))
return 'enabled'
`,
};

/** KEYS: TOTP, failures. ARGV: step, lock-after count, resealed secret or ''. RFC 6238 §5.2's check-and-set. */
export const acceptTotpStep = {
  numberOfKeys: 2,
  lua: `
local raw = redis.call('GET', KEYS[1])
if not raw then return 'not_enabled' end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return 'locked' end
local totp = cjson.decode(raw)
if tonumber(ARGV[1]) <= tonumber(totp.lastStep) then return 'replayed' end
totp.lastStep = tonumber(ARGV[1])
if ARGV[3] ~= '' then totp.sealedSecret = ARGV[3] end
redis.call('SET', KEYS[1], cjson.encode(totp))
redis.call('DEL', KEYS[2])
return 'accepted'
`,
};

/** KEYS: recovery codes, failures. ARGV: the code's hash. Returns the codes left, or -1 when it is not one. */
export const useRecoveryCode = {
  numberOfKeys: 2,
  lua: `
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('DEL', KEYS[2])
return redis.call('SCARD', KEYS[1])
`,
};

/** KEYS: user, recovery codes. ARGV: the new hashes. 0, changing nothing, unless the user has a second factor. */
export const replaceRecoveryCodes = {
  numberOfKeys: 2,
  lua: `
local raw = redis.call('GET', KEYS[1])
if not raw or not cjson.decode(raw).mfaEnabled then return 0 end
redis.call('DEL', KEYS[2])
for i = 1, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
return 1
`,
};

/** KEYS: user, TOTP, enrolment, failures, recovery codes. Returns 1 when a factor was on. */
export const disableMfa = {
  numberOfKeys: 5,
  lua: `
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local user = cjson.decode(raw)
if not user.mfaEnabled then return 0 end
user.mfaEnabled = false
redis.call('SET', KEYS[1], cjson.encode(user))
return 1
`,
};

/**
 * KEYS: user, passkeys. ARGV: credential id, passkey JSON, the most passkeys a user may hold.
 * The directory claim on the credential id is made before, by the caller.
 */
export const addPasskey = {
  numberOfKeys: 2,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'user_missing' end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'taken' end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then return 'limit' end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 'added'
`,
};

/** KEYS: passkeys. ARGV: credential id, new name. Returns the passkey JSON, or false when missing. */
export const renamePasskey = {
  numberOfKeys: 1,
  lua: `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local passkey = cjson.decode(raw)
passkey.name = ARGV[2]
local encoded = cjson.encode(passkey)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
return encoded
`,
};

/**
 * KEYS: passkeys. ARGV: credential id, the response's counter. The counter must go up, unless it
 * and the stored one are both 0 (an authenticator that does not count); else nothing changes.
 */
export const usePasskey = {
  numberOfKeys: 1,
  lua: `${NOW_MS}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {'missing'} end
local passkey = cjson.decode(raw)
local counter = tonumber(ARGV[2])
if (counter > 0 or passkey.counter > 0) and counter <= passkey.counter then return {'counter_regressed', raw} end
passkey.counter = counter
passkey.lastUsedAt = now_ms()
local encoded = cjson.encode(passkey)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
return {'used', encoded}
`,
};

/**
 * KEYS: passkeys, sessions, cutoff, password, the session key prefix (a session key without its id).
 * ARGV: credential id. Removes the passkey and ends every session it started, in one step, unless
 * the user has no password (none, or an empty hash) and no other passkey. Session keys share the user's hash tag, as in end_oldest.
 */
export const removePasskey = {
  numberOfKeys: 5,
  lua: `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {'missing'} end
local password = redis.call('GET', KEYS[4])
if (not password or password == '') and redis.call('HLEN', KEYS[1]) <= 1 then return {'last_way_in'} end
redis.call('HDEL', KEYS[1], ARGV[1])
local cutoff = tonumber(redis.call('GET', KEYS[3]) or '0')
local ended = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local raw = redis.call('GET', KEYS[5] .. id)
  if raw then
    local session = cjson.decode(raw)
    if session.passkeyId == ARGV[1] then
      if session.createdAt > cutoff then table.insert(ended, id) end
      redis.call('DEL', KEYS[5] .. id)
      redis.call('ZREM', KEYS[2], id)
    end
  end
end
return {'removed', unpack(ended)}
`,
};

/** KEYS: a passkey owner entry. ARGV: the user id it must still name. */
export const releasePasskeyOwner = {
  numberOfKeys: 1,
  lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`,
};

/** KEYS: a challenge. Returns it and deletes it: a challenge is taken once. */
export const takeChallenge = {
  numberOfKeys: 1,
  lua: `
local raw = redis.call('GET', KEYS[1])
if raw then redis.call('DEL', KEYS[1]) end
return raw
`,
};

/**
 * Takes the user's mail token from KEYS[1] when its hash is ARGV[1] and it is live at ARGV[2]
 * (epoch ms, the API's clock); a wrong hash leaves it in place, so guessing cannot cancel a link.
 * Returns the decoded record, or nil.
 */
const TAKE_MAIL_TOKEN = `
local function take_mail_token(token_key, hash, now)
  local raw = redis.call('GET', token_key)
  if not raw then return nil end
  local token = cjson.decode(raw)
  if token.hash ~= hash then return nil end
  redis.call('DEL', token_key)
  if tonumber(token.expiresAt) <= tonumber(now) then return nil end
  return token
end
`;

/**
 * KEYS: reset token, password, user, sessions, cutoff, email-change token. ARGV: token hash, now,
 * new password hash. Consumes the token, stores the password, marks the address verified (the link
 * proved it), ends every session and cancels a pending email change (it may be the intruder's);
 * returns the user JSON, or false when the token does not match.
 */
export const resetPassword = {
  numberOfKeys: 6,
  lua: `${NOW_MS}${END_ALL}${TAKE_MAIL_TOKEN}
local raw = redis.call('GET', KEYS[3])
local token = take_mail_token(KEYS[1], ARGV[1], ARGV[2])
if not raw or not token then return false end
local user = cjson.decode(raw)
if token.email ~= user.email then return false end
user.emailVerified = true
local encoded = cjson.encode(user)
redis.call('SET', KEYS[3], encoded)
redis.call('SET', KEYS[2], ARGV[3])
redis.call('DEL', KEYS[6])
end_all(KEYS[4], KEYS[5])
return encoded
`,
};

/** KEYS: verification token, user. ARGV: token hash, now. Returns the user JSON, or false. */
/** KEYS: the token. ARGV: token hash, now. Consumes a matching token; returns it while live, else false. */
export const takeMailToken = {
  numberOfKeys: 1,
  lua: `${TAKE_MAIL_TOKEN}
local raw = redis.call('GET', KEYS[1])
if not take_mail_token(KEYS[1], ARGV[1], ARGV[2]) then return false end
return raw
`,
};

export const verifyEmail = {
  numberOfKeys: 2,
  lua: `${TAKE_MAIL_TOKEN}
local raw = redis.call('GET', KEYS[2])
local token = take_mail_token(KEYS[1], ARGV[1], ARGV[2])
if not raw or not token then return false end
local user = cjson.decode(raw)
if token.email ~= user.email then return false end
user.emailVerified = true
local encoded = cjson.encode(user)
redis.call('SET', KEYS[2], encoded)
return encoded
`,
};

/**
 * KEYS: an address's claim ({directory}). ARGV: user id. Claims the address for the user unless
 * another account holds it (0). Frees nothing: an email change frees the old address only once the
 * record has moved (releaseAddress), so no moment leaves both addresses free or one with two owners.
 */
export const claimAddress = {
  numberOfKeys: 1,
  lua: `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`,
};

/** KEYS: an address's claim. ARGV: user id. Frees the claim if it is that user's. */
export const releaseAddress = {
  numberOfKeys: 1,
  lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`,
};

/**
 * KEYS: email-change token, user, sessions, cutoff, the session that asked. ARGV: token hash, now,
 * the session id that asked. Consumes the token; unless the session that asked has ended or the
 * account is disabled (the change dies with what vouched for it), switches the record to the
 * token's address (claimed on the directory just before), marks it verified and ends every other
 * session. Returns {'changed', user JSON, ended}, or {'invalid'}.
 */
export const applyEmailChange = {
  numberOfKeys: 5,
  lua: `${NOW_MS}${TAKE_MAIL_TOKEN}
local raw = redis.call('GET', KEYS[2])
if not raw then return {'invalid'} end
local user = cjson.decode(raw)
local token = take_mail_token(KEYS[1], ARGV[1], ARGV[2])
if not token then return {'invalid'} end
local cutoff = tonumber(redis.call('GET', KEYS[4]) or '0')
local asking = redis.call('GET', KEYS[5])
if user.disabled or not asking or cjson.decode(asking).createdAt <= cutoff then return {'invalid'} end
user.email = token.email
user.emailVerified = true
local encoded = cjson.encode(user)
redis.call('SET', KEYS[2], encoded)
local prefix = string.sub(KEYS[5], 1, #KEYS[5] - #ARGV[3])
local ended = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if id ~= ARGV[3] then
    local session = redis.call('GET', prefix .. id)
    if session and cjson.decode(session).createdAt > cutoff then ended = ended + 1 end
    redis.call('DEL', prefix .. id)
    redis.call('ZREM', KEYS[3], id)
  end
end
return {'changed', encoded, ended}
`,
};

/**
 * "This was not me", from the link in the notice to the old address. KEYS: the cancel token, user,
 * sessions, cutoff, the pending email change, the password. ARGV: token hash, now, the address to move back to
 * ('' for none: claimed on the directory just before), the address the caller read on the record.
 * When the record holds another address now, returns {'retry'} and spends nothing. Otherwise
 * consumes the token, cancels the pending change, removes the password (whoever asked knew it),
 * moves the record back when told to, and ends every session. Returns {'cancelled', user JSON, ended, reverted 0|1}, or {'invalid'}.
 */
export const cancelEmailChange = {
  numberOfKeys: 6,
  lua: `${NOW_MS}${END_ALL}${TAKE_MAIL_TOKEN}
local raw = redis.call('GET', KEYS[2])
if not raw then return {'invalid'} end
local user = cjson.decode(raw)
if user.email ~= ARGV[4] then return {'retry'} end
local token = take_mail_token(KEYS[1], ARGV[1], ARGV[2])
if not token then return {'invalid'} end
redis.call('DEL', KEYS[5], KEYS[6])
local reverted = 0
if ARGV[3] ~= '' then
  user.email = ARGV[3]
  user.emailVerified = true
  raw = cjson.encode(user)
  redis.call('SET', KEYS[2], raw)
  reverted = 1
end
return {'cancelled', raw, end_all(KEYS[3], KEYS[4]), reverted}
`,
};

export const scripts = {
  appendAuditEvent,
  appendUserAuditEvent,
  enableTotp,
  acceptTotpStep,
  useRecoveryCode,
  replaceRecoveryCodes,
  disableMfa,
  addPasskey,
  renamePasskey,
  usePasskey,
  removePasskey,
  releasePasskeyOwner,
  takeChallenge,
  resetPassword,
  takeMailToken,
  verifyEmail,
  claimAddress,
  releaseAddress,
  applyEmailChange,
  cancelEmailChange,
  createSession,
  rotateSession,
  stepUpSession,
  markSessionAuthenticated,
  endSession,
  endAllSessions,
  decideAccess,
  applyAccess,
  claimEmail,
  endOtherSessions,
  releaseEmail,
  pageUsers,
};
