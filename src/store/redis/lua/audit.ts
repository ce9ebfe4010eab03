import { fragment, NOW_MS, script } from "./fragments";

/** The audit trail: the global stream, and the user's two on the user's slot. */

/**
 * Appends one audit entry (ARGV[3..]: field, value, ...) to `key` under `id` and trims the stream,
 * approximately, to ARGV[1] entries and ARGV[2] ms of age, so each write costs O(1). The key itself
 * expires that long after its newest entry, so a quiet user's trail goes away whole.
 */
const APPEND_AUDIT = fragment(
  `
local function append_audit(key, id)
  local max_age = tonumber(ARGV[2])
  local added = redis.call('XADD', key, 'MAXLEN', '~', ARGV[1], id, unpack(ARGV, 3))
  redis.call('XTRIM', key, 'MINID', '~', now_ms() - max_age)
  redis.call('PEXPIRE', key, max_age)
  return added
end
`,
  NOW_MS,
);

/** Appends one audit entry to KEYS[1], the global stream, under an id Redis makes. */
export const appendAuditEvent = script(1, [APPEND_AUDIT], `
return append_audit(KEYS[1], '*')
`);

/**
 * Appends one audit entry to a user's stream KEYS[1] (ARGV as appendAuditEvent's), under an id
 * above the last one either of the user's streams (KEYS[1], KEYS[2]) ever made: ids are unique
 * across the two, so a page of both is ordered, and resumed, by id alone.
 */
export const appendUserAuditEvent = script(2, [APPEND_AUDIT], `
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
`);
