import { ACCESS_LINE, CUTOFF, END_SESSIONS, script } from "./fragments";

/**
 * The access record: with the directory in Postgres, what the user's slot must know of the user,
 * copied from Postgres after each commit (src/store/postgres/outbox.ts). The same record key the
 * per-request read and every session script read (a UserRecord, no secret), the password as a
 * fingerprint (createSession's "was it changed meanwhile" check, never the hash) and the passkey ids
 * (its "was it removed meanwhile" check).
 */

/**
 * KEYS: user, access version, password, passkeys. ARGV: the directory's version, the record JSON,
 * the password fingerprint ('' for none), 'force' or '', then the passkey ids. Writes nothing
 * unless the version is newer than the one written, or the record is gone: a replay, or a slower
 * instance, never puts an older state back, and a Redis that lost the record (data loss, a
 * restore) gets it again, as no newer write can have left it missing. 'force' writes whatever
 * Redis holds: `npm run directory:resync`, after Postgres went back in time (a point-in-time
 * restore), so that Redis' version is Postgres' again. Returns 1 when written over an older
 * version or none, 2 when forced over a newer one (the restore's case), 0 when not written.
 */
export const putAccessRecord = script(4, [ACCESS_LINE], `
local written = tonumber(redis.call('GET', KEYS[2]) or '0')
local newer = written > tonumber(ARGV[1])
if ARGV[4] ~= 'force' and written >= tonumber(ARGV[1]) and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
write_access_line(KEYS[1], cjson.decode(ARGV[2]))
if ARGV[3] == '' then redis.call('DEL', KEYS[3]) else redis.call('SET', KEYS[3], ARGV[3]) end
redis.call('DEL', KEYS[4])
for i = 5, #ARGV do redis.call('HSET', KEYS[4], ARGV[i], '1') end
if newer then return 2 end
return 1
`);

/** KEYS: sessions, cutoff, the session key prefix. ARGV: credential id. Ends the sessions it started; returns their ids. */
export const endPasskeySessions = script(3, [CUTOFF, END_SESSIONS], `
return end_sessions(KEYS[1], KEYS[3], cutoff_at(KEYS[2]), function(_, session) return session and session.passkeyId == ARGV[1] end)
`);

/**
 * KEYS: user, access record. The access record, converted from the JSON record when only that is
 * there (a record written before the access record existed, ../access-line.ts), with the JSON
 * record's expiry (a user whose register is still pending). Returns the line, or false when there
 * is no user.
 */
export const migrateAccessRecord = script(2, [ACCESS_LINE], `
local line = redis.call('GET', KEYS[2])
if line then return line end
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
line = write_access_line(KEYS[1], cjson.decode(raw))
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return line
`);

/** KEYS: sessions, cutoff, the session key prefix. ARGV: provider, subject. Ends the sessions that identity started; returns their ids. */
export const endIdentitySessions = script(3, [CUTOFF, END_SESSIONS], `
return end_sessions(KEYS[1], KEYS[3], cutoff_at(KEYS[2]), function(_, session)
  local federation = session and session.federation
  return type(federation) == 'table' and federation.provider == ARGV[1] and federation.subject == ARGV[2]
end)
`);
