import { NOW_MS, script } from "./fragments";

/** Passkeys on the user's slot, their owners and the WebAuthn challenges on their own keys. */

/**
 * KEYS: user, passkeys. ARGV: credential id, passkey JSON, the most passkeys a user may hold.
 * The directory claim on the credential id is made before, by the caller.
 */
export const addPasskey = script(2, [], `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'user_missing' end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'taken' end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then return 'limit' end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 'added'
`);

/** KEYS: passkeys. ARGV: credential id, new name. Returns the passkey JSON, or false when missing. */
export const renamePasskey = script(1, [], `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local passkey = cjson.decode(raw)
passkey.name = ARGV[2]
local encoded = cjson.encode(passkey)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
return encoded
`);

/**
 * KEYS: passkeys. ARGV: credential id, the response's counter. The counter must go up, unless it
 * and the stored one are both 0 (an authenticator that does not count); else nothing changes.
 */
export const usePasskey = script(1, [NOW_MS], `
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
`);

/** KEYS: a challenge. Returns it and deletes it: a challenge is taken once. */
export const takeChallenge = script(1, [], `
local raw = redis.call('GET', KEYS[1])
if raw then redis.call('DEL', KEYS[1]) end
return raw
`);
