import { NOW_MS, script } from "./fragments";

/**
 * Provider sign-in's hot state: each script on one index's slot, the index of a provider session
 * (`{oidc:<provider>:sid:<sid>}`) or of a provider subject (`…:sub:<subject>`), with its logout marker.
 */

/**
 * KEYS: an index, its logout marker. ARGV: `userId sessionId`, the session's expiry (epoch ms), the
 * sign-in's start ('' for none: a refresh, no check), 'sid' (any marker refuses) or 'sub' (a marker
 * at or after the start refuses), the cap (0 for none). Returns 0 when a logout's marker refuses the
 * sign-in, and adds nothing then; else 1. An entry only ever moves later: a refresh carries it on,
 * an older write never shortens it; entries of expired sessions go, and past the cap those that
 * expire first (never the one recorded now).
 */
export const recordProviderSession = script(2, [NOW_MS], `
if ARGV[3] ~= '' then
  local logout = redis.call('GET', KEYS[2])
  if logout and (ARGV[4] == 'sid' or tonumber(logout) >= tonumber(ARGV[3])) then return 0 end
end
local now = now_ms()
-- GT moves an entry only later, and still adds a new one.
redis.call('ZADD', KEYS[1], 'GT', tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local cap = tonumber(ARGV[5])
local over = cap > 0 and redis.call('ZCARD', KEYS[1]) - cap or 0
if over > 0 then
  -- Those that expire first, never the one just recorded (expiries are whole seconds: ties are common).
  for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, over)) do
    if over > 0 and member ~= ARGV[1] then
      redis.call('ZREM', KEYS[1], member)
      over = over - 1
    end
  end
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], tonumber(last[2])) end
return 1
`);

/** KEYS: a logout marker. ARGV: when the logout was received (epoch ms), its TTL (ms). Never moves a marker back. */
export const markProviderLogout = script(1, [], `
local at = redis.call('GET', KEYS[1])
if at and tonumber(at) >= tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2], 'GT')
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

/**
 * KEYS: a flow. ARGV: the provider and the `state` the callback brought. Returns the flow and
 * deletes it only when both match (Lua compares interned strings, in the same time whatever they
 * hold); else false, and the flow stays for the real answer.
 */
export const takeFlow = script(1, [], `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local flow = cjson.decode(raw)
if flow.provider ~= ARGV[1] or flow.state ~= ARGV[2] then return false end
redis.call('DEL', KEYS[1])
return raw
`);
