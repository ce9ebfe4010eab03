import { script } from "./fragments";

/**
 * Back-channel logout (src/store/redis/backchannel-logout.ts): every key shares the hash tag
 * {oauth-bcl}, so each step is one script on one slot. Queue items are JSON in one hash.
 */

/**
 * KEYS: the user's links, users with links, due, items, per-client counts, the id sequence.
 * ARGV: user id, scope kind, its target, now, staleBefore, linkedBefore, maxPerClient, maxTotal.
 * Removes the links the scope reaches and queues one item each (or drops it, over a bound).
 * Returns { dropped, item JSON... }.
 */
export const bclEnqueue = script(6, [], `
local user, kind, target, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local max_per_client, max_total = tonumber(ARGV[7]), tonumber(ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[5])
local out = { 0 }
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[6])) do
  local space = string.find(member, ' ', 1, true)
  local sid, client = string.sub(member, 1, space - 1), string.sub(member, space + 1)
  if kind == 'all' or (kind == 'session' and sid == target) or (kind == 'others' and sid ~= target) or (kind == 'client' and client == target) then
    redis.call('ZREM', KEYS[1], member)
    local count = tonumber(redis.call('HGET', KEYS[5], client) or '0')
    if count >= max_per_client or redis.call('HLEN', KEYS[4]) >= max_total then
      out[1] = out[1] + 1
    else
      local id = tostring(redis.call('INCR', KEYS[6]))
      local item = cjson.encode({ id = id, userId = user, sessionId = sid, clientId = client, queuedAt = now, attempts = 0 })
      redis.call('HSET', KEYS[4], id, item)
      redis.call('ZADD', KEYS[3], now, id)
      redis.call('HINCRBY', KEYS[5], client, 1)
      table.insert(out, item)
    end
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], user) end
return out
`);

/** KEYS: due, items. ARGV: now, lease ms. The next due item, leased and counted as an attempt; nil when none is due. */
export const bclClaim = script(2, [], `
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #ids == 0 then return false end
local raw = redis.call('HGET', KEYS[2], ids[1])
if not raw then
  redis.call('ZREM', KEYS[1], ids[1])
  return false
end
local item = cjson.decode(raw)
item.attempts = item.attempts + 1
raw = cjson.encode(item)
redis.call('HSET', KEYS[2], ids[1], raw)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ids[1])
return raw
`);

/** KEYS: due, items, per-client counts. ARGV: id. The item leaves the queue. */
export const bclFinish = script(3, [], `
redis.call('ZREM', KEYS[1], ARGV[1])
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local client = cjson.decode(raw).clientId
if redis.call('HINCRBY', KEYS[3], client, -1) <= 0 then redis.call('HDEL', KEYS[3], client) end
return 1
`);
