import { PUT_USER, script } from "./fragments";

/** The second factor, on the user's slot. */

/**
 * KEYS: user, TOTP enrolment, TOTP, failures, recovery codes. ARGV: the sealed secret the
 * enrolment must still hold, the accepted step, then the recovery-code hashes.
 */
export const enableTotp = script(5, [PUT_USER], `
local raw = redis.call('GET', KEYS[1])
if not raw then return 'user_missing' end
local user = cjson.decode(raw)
if user.mfaEnabled then return 'already_enabled' end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'no_enrolment' end
redis.call('SET', KEYS[3], cjson.encode({ sealedSecret = ARGV[1], lastStep = tonumber(ARGV[2]) }))
redis.call('DEL', KEYS[2], KEYS[4], KEYS[5])
for i = 3, #ARGV do redis.call('SADD', KEYS[5], ARGV[i]) end
user.mfaEnabled = true
put_user(KEYS[1], user)
return 'enabled'
`);

/** KEYS: TOTP, failures. ARGV: step, lock-after count, resealed secret or ''. RFC 6238 §5.2's check-and-set. */
export const acceptTotpStep = script(2, [], `
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
`);

/** KEYS: recovery codes, failures. ARGV: the code's hash. Returns the codes left, or -1 when it is not one. */
export const useRecoveryCode = script(2, [], `
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('DEL', KEYS[2])
return redis.call('SCARD', KEYS[1])
`);

/** KEYS: user, recovery codes. ARGV: the new hashes. 0, changing nothing, unless the user has a second factor. */
export const replaceRecoveryCodes = script(2, [], `
local raw = redis.call('GET', KEYS[1])
if not raw or not cjson.decode(raw).mfaEnabled then return 0 end
redis.call('DEL', KEYS[2])
for i = 1, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
return 1
`);

/** KEYS: user, TOTP, enrolment, failures, recovery codes. Returns 1 when a factor was on. */
export const disableMfa = script(5, [PUT_USER], `
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local user = cjson.decode(raw)
if not user.mfaEnabled then return 0 end
user.mfaEnabled = false
put_user(KEYS[1], user)
return 1
`);
