import { BOUND_ACCESS_STATE_SCRIPT } from "@revocable-auth/verifier/internal";
import { CUTOFF, END_ALL, END_SESSIONS, fragment, NOW_MS, script, SESSION_PREFIX } from "./fragments";

/** Sessions and revocation: each script on the user's slot (KEYS share the user's hash tag). */

const TRACK_SESSION = fragment(`
local function track_session(sessions_key, session_id, expires_at, now)
  redis.call('ZADD', sessions_key, expires_at, session_id)
  redis.call('ZREMRANGEBYSCORE', sessions_key, '-inf', now)
  local last = redis.call('ZRANGE', sessions_key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', sessions_key, tonumber(last[2])) end
end
`);

/**
 * Ends the oldest live sessions (by createdAt) of one kind beyond `max`, never `keep`: full ones
 * (`pending` false) or those waiting for their second factor (`pending` true); the other kind is
 * neither counted nor ended. Reads each tracked session once: the two caps keep that at most both
 * maxima + 1.
 */
const END_OLDEST = fragment(
  `
local function end_oldest(sessions_key, session_key, keep, cutoff, max, pending)
  local ended = {}
  local ids = redis.call('ZRANGE', sessions_key, 0, -1)
  if #ids <= max then return ended end
  local prefix = session_prefix(session_key, keep)
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
`,
  SESSION_PREFIX,
);

/**
 * The prologue of every step on a live session. KEYS: user, session, sessions, cutoff. Returns the
 * session as stored, decoded, the user's record as stored, the cutoff, and whether the session is
 * live (its user exists and is enabled, and no cutoff ended it); nil when the session is gone.
 */
const READ_SESSION = fragment(
  `
local function read_session()
  local raw = redis.call('GET', KEYS[2])
  if not raw then return nil end
  local session = cjson.decode(raw)
  local user = redis.call('GET', KEYS[1])
  local cutoff = cutoff_at(KEYS[4])
  local live = user and not cjson.decode(user).disabled and session.createdAt > cutoff
  return raw, session, user, cutoff, live
end
`,
  CUTOFF,
);

/**
 * KEYS: user, session, sessions, cutoff, password, passkeys. ARGV: new session as JSON (without
 * times but expiresAt), the most live full sessions a user may hold ('' for no cap), the password
 * hash the login checked ('' for none), the passkey that signed in ('' for none), then the pending
 * limits: the latest a pending session lives (epoch ms) and the most pending ones ('' for none).
 * An aal1 session of a user with a second factor on starts pending: it is capped among the
 * pending ones only, so it never ends, nor counts against, a full session.
 */
export const createSession = script(6, [NOW_MS, CUTOFF, TRACK_SESSION, END_OLDEST], `
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
local cutoff = cutoff_at(KEYS[4])
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
`);

/**
 * KEYS: user, session, sessions, cutoff, the DPoP proof's jti. ARGV: session id, presented jti, next
 * jti, next expiresAt, next issuedAt, grace ms, the proof's TTL in seconds ('' without a proof: the
 * fifth key is then not touched). The jti the last rotation replaced, presented again less than
 * grace ms later, gets that rotation's outcome again and changes nothing; any other stale jti is
 * reuse. A proof seen before (at a refresh or with an access token) changes nothing: a copied
 * refresh token with a copied proof cannot rotate, and so cannot burn, its owner's session.
 */
export const rotateSession = script(5, [NOW_MS, TRACK_SESSION, READ_SESSION], `
if ARGV[7] ~= '' and not redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[7]) then return {'proof_replayed'} end
local raw, session, user, _, live = read_session()
if not raw then return {'ended'} end
local function finish(status)
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return {status}
end
if not live then return finish('ended') end
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
`);

/**
 * KEYS: user, session, sessions, cutoff. ARGV: session id, assurance as JSON, next jti, next
 * expiresAt, the most live full sessions a user may hold ('' for no cap), authenticatedAt (the
 * API's clock; never moved back). Raises a live session and starts a new refresh-token family: the
 * rotation record goes, so neither the current refresh token nor the one before it gets anything
 * from the session again. A pending session becomes a full one, and the cap of full sessions ends
 * the oldest beyond it. Returns {'raised', session, user, '1' when it was pending else '0', ended ids...}.
 */
export const stepUpSession = script(4, [NOW_MS, TRACK_SESSION, END_OLDEST, READ_SESSION], `
local raw, session, user, cutoff, live = read_session()
if not raw or not live then return {'ended'} end
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
`);

/**
 * KEYS: user, session, sessions, cutoff. ARGV: authenticatedAt (the API's clock). Stamps a live
 * session as recently authenticated, never moving the stamp back; its expiry stays.
 */
export const markSessionAuthenticated = script(4, [READ_SESSION], `
local raw, session, _, _, live = read_session()
if not raw or not live then return 0 end
session.authenticatedAt = math.max(tonumber(session.authenticatedAt or 0), tonumber(ARGV[1]))
redis.call('SET', KEYS[2], cjson.encode(session), 'PXAT', session.expiresAt)
return 1
`);

/**
 * KEYS: session, sessions, cutoff, revoked jti. ARGV: session id, revoked jti's expiresAt or ''.
 * Returns the session's JSON when it was live (its device names it in the ended event), else nil.
 */
export const endSession = script(4, [NOW_MS, CUTOFF], `
local now = now_ms()
if ARGV[2] ~= '' and tonumber(ARGV[2]) > now then
  redis.call('SET', KEYS[4], '1', 'PXAT', ARGV[2])
end
local raw = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not raw then return false end
if cjson.decode(raw).createdAt <= cutoff_at(KEYS[3]) then return false end
return raw
`);

/** KEYS: sessions, cutoff, the pending email change, which dies with the sessions (one of them asked for it). */
export const endAllSessions = script(3, [END_ALL], `
redis.call('DEL', KEYS[3])
return end_all(KEYS[1], KEYS[2])
`);

/**
 * Serves endOtherSessions and, with a hash, the changePassword transition. KEYS: sessions, cutoff,
 * password, the kept session, the pending email change, then every other session of the user.
 * ARGV: kept session id, new password hash or '', then the other session ids in KEYS' order. With
 * a hash, nothing changes unless the kept session is live (returns -1), sessions begun since the
 * ids were read end too, and a pending email change is cancelled. Returns how many of the others
 * were live. The key count varies, so callers pass it first (no numberOfKeys).
 */
export const endOtherSessions = script(null, [CUTOFF, SESSION_PREFIX, END_SESSIONS], `
local cutoff = cutoff_at(KEYS[2])
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
  -- that has not begun yet is refused by createSession's password check.
  local others = end_sessions(KEYS[1], session_prefix(KEYS[4], ARGV[1]), cutoff, function(id) return id ~= ARGV[1] end)
  ended = ended + #others
end
return ended
`);

/** The per-request read of a DPoP-bound token: the verifier package's script, so both record a proof's jti alike. */
export const boundAccessState = script(5, [], BOUND_ACCESS_STATE_SCRIPT);
