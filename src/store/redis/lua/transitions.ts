import { CUTOFF, END_ALL, END_SESSIONS, fragment, NOW_MS, PUT_USER, script, SESSION_PREFIX, TAKE_MAIL_TOKEN } from "./fragments";

/**
 * The steps that span concerns, each one script on the user's slot (an access change, or an email
 * change, first decides or claims on the {directory} slot).
 */

/**
 * Takes the mail token and marks the user's address verified, when the token was mailed to the
 * address the record holds (a matching token is consumed either way). The record's new JSON, or nil.
 */
const VERIFY_ADDRESS = fragment(
  `
local function verify_address(user_key, token_key, hash, now)
  local raw = redis.call('GET', user_key)
  local token = take_mail_token(token_key, hash, now)
  if not raw or not token then return nil end
  local user = cjson.decode(raw)
  if token.email ~= user.email then return nil end
  user.emailVerified = true
  return put_user(user_key, user)
end
`,
  TAKE_MAIL_TOKEN,
  PUT_USER,
);

/**
 * Step one of an access change, on the {directory} slot, where every such change of every user is
 * ordered. KEYS: access, enabled admins. ARGV: user id, the user's roles and disabled flag as the
 * record holds them (used only when the directory has no entry yet), the change as JSON
 * (`roles` and/or `disabled`), '1' to refuse leaving no enabled admin. Returns {'last_admin'} or
 * {'changed', state JSON with its version `v`}. The index follows the state in the same step.
 */
export const decideAccess = script(2, [], `
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
`);

/**
 * Step two, on the user's slot: copies a decided state into the record unless a later one is
 * there already, so steps arriving out of order (two instances) still leave the latest. A disabling
 * state ends every session even when late: it was decided, and ending sessions is never wrong
 * after it, and so does cancelling a pending email change. KEYS: user, sessions, cutoff, access
 * version, the pending email change. ARGV: the state JSON. Returns the record JSON, or false when
 * the user is missing.
 */
export const applyAccess = script(5, [NOW_MS, END_ALL, PUT_USER], `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local state = cjson.decode(ARGV[1])
local user = cjson.decode(raw)
local applied = tonumber(redis.call('GET', KEYS[4]) or '0')
if state.v > applied then
  user.roles = state.roles
  user.disabled = state.disabled
  redis.call('SET', KEYS[4], state.v)
  raw = put_user(KEYS[1], user)
end
if state.disabled then
  end_all(KEYS[2], KEYS[3])
  redis.call('DEL', KEYS[5])
end
return raw
`);

/**
 * KEYS: passkeys, sessions, cutoff, password, the session key prefix (a session key without its id).
 * ARGV: credential id. KEYS[6]: the user's linked identities. Removes the passkey and ends every
 * session it started, in one step, unless the user has no password (none, or an empty hash), no
 * other passkey and no linked identity (unlinkIdentity checks the same, on the same slot). Session keys share the user's hash tag, as in end_oldest.
 */
export const removePasskey = script(6, [CUTOFF, END_SESSIONS], `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {'missing'} end
local password = redis.call('GET', KEYS[4])
if (not password or password == '') and redis.call('HLEN', KEYS[1]) <= 1 and redis.call('HLEN', KEYS[6]) == 0 then return {'last_way_in'} end
redis.call('HDEL', KEYS[1], ARGV[1])
local ended = end_sessions(KEYS[2], KEYS[5], cutoff_at(KEYS[3]), function(_, session) return session and session.passkeyId == ARGV[1] end)
return {'removed', unpack(ended)}
`);

/**
 * KEYS: reset token, password, user, sessions, cutoff, email-change token. ARGV: token hash, now,
 * new password hash. Consumes the token, stores the password, marks the address verified (the link
 * proved it), ends every session and cancels a pending email change (it may be the intruder's);
 * returns the user JSON, or false when the token does not match.
 */
export const resetPassword = script(6, [END_ALL, VERIFY_ADDRESS], `
local encoded = verify_address(KEYS[3], KEYS[1], ARGV[1], ARGV[2])
if not encoded then return false end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('DEL', KEYS[6])
end_all(KEYS[4], KEYS[5])
return encoded
`);

/** KEYS: verification token, user. ARGV: token hash, now. Returns the user JSON, or false. */
export const verifyEmail = script(2, [VERIFY_ADDRESS], `
return verify_address(KEYS[2], KEYS[1], ARGV[1], ARGV[2]) or false
`);

/**
 * KEYS: an address's claim ({directory}). ARGV: user id. Claims the address for the user unless
 * another account holds it (0). Frees nothing: an email change frees the old address only once the
 * record has moved (releaseClaim), so no moment leaves both addresses free or one with two owners.
 */
export const claimAddress = script(1, [], `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`);

/**
 * KEYS: email-change token, user, sessions, cutoff, the session that asked. ARGV: token hash, now,
 * the session id that asked. Consumes the token; unless the session that asked has ended or the
 * account is disabled (the change dies with what vouched for it), switches the record to the
 * token's address (claimed on the directory just before), marks it verified and ends every other
 * session. Returns {'changed', user JSON, ended}, or {'invalid'}.
 */
export const applyEmailChange = script(5, [CUTOFF, SESSION_PREFIX, END_SESSIONS, TAKE_MAIL_TOKEN, PUT_USER], `
local raw = redis.call('GET', KEYS[2])
if not raw then return {'invalid'} end
local user = cjson.decode(raw)
local token = take_mail_token(KEYS[1], ARGV[1], ARGV[2])
if not token then return {'invalid'} end
local cutoff = cutoff_at(KEYS[4])
local asking = redis.call('GET', KEYS[5])
if user.disabled or not asking or cjson.decode(asking).createdAt <= cutoff then return {'invalid'} end
user.email = token.email
user.emailVerified = true
local encoded = put_user(KEYS[2], user)
local ended = end_sessions(KEYS[3], session_prefix(KEYS[5], ARGV[3]), cutoff, function(id) return id ~= ARGV[3] end)
return {'changed', encoded, #ended}
`);

/**
 * "This was not me", from the link in the notice to the old address. KEYS: the cancel token, user,
 * sessions, cutoff, the pending email change, the password. ARGV: token hash, now, the address to move back to
 * ('' for none: claimed on the directory just before), the address the caller read on the record.
 * When the record holds another address now, returns {'retry'} and spends nothing. Otherwise
 * consumes the token, cancels the pending change, removes the password (whoever asked knew it),
 * moves the record back when told to, and ends every session. Returns {'cancelled', user JSON, ended, reverted 0|1}, or {'invalid'}.
 */
export const cancelEmailChange = script(6, [NOW_MS, END_ALL, TAKE_MAIL_TOKEN, PUT_USER], `
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
  raw = put_user(KEYS[2], user)
  reverted = 1
end
return {'cancelled', raw, end_all(KEYS[3], KEYS[4]), reverted}
`);

/**
 * KEYS: the user's identities, password, passkeys, sessions, cutoff, the session key prefix. ARGV:
 * identity id. Removes the identity's record unless it is the user's last way in (no password, no
 * passkey, no other identity), and ends every session the identity started (its `federation` names
 * the provider and subject), in one step; returns {'unlinked', record, ended session ids...} or
 * {'missing'} or {'last_credential'}. The subject's claim on `{directory}` is released after, in a
 * second step, as linkIdentity made it before (findIdentity also reads this hash, so a claim that
 * second step left behind signs nobody in).
 */
export const unlinkIdentity = script(6, [CUTOFF, END_SESSIONS], `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {'missing'} end
local password = redis.call('GET', KEYS[2])
if (not password or password == '') and redis.call('HLEN', KEYS[3]) == 0 and redis.call('HLEN', KEYS[1]) <= 1 then return {'last_credential'} end
redis.call('HDEL', KEYS[1], ARGV[1])
local identity = cjson.decode(raw)
local ended = end_sessions(KEYS[4], KEYS[6], cutoff_at(KEYS[5]), function(_, session)
  local federation = session and session.federation
  return type(federation) == 'table' and federation.provider == identity.provider and federation.subject == identity.subject
end)
return {'unlinked', raw, unpack(ended)}
`);

/** KEYS: a provider subject's claim ({directory}). ARGV: the claim as read. Deletes it only while it is still that one. */
export const releaseIdentityClaim = script(1, [], `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`);
