import { RELEASE_CLAIM, script } from "./fragments";

/** The user directory: the address claims and the list of users, on the {directory} slot. */

/**
 * KEYS: email, users. ARGV: user id, createdAt. Claims the email; 0 when taken. The write that can
 * fail on a wrong type (ZADD) goes first, so a failed claim writes nothing.
 */
export const claimEmail = script(2, [], `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])
return 1
`);

/**
 * KEYS: email, users. ARGV: the user id the claim must still name. Frees a claim whose user record
 * expired before it was kept (a register that failed between its two steps).
 */
export const releaseEmail = script(2, [RELEASE_CLAIM], `
if release_claim(KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`);

/**
 * KEYS: a claim on the directory: an address (an email change's), or a passkey's owner entry.
 * ARGV: the user id it must still name. Frees the claim if it is that user's.
 */
export const releaseClaim = script(1, [RELEASE_CLAIM], `
return release_claim(KEYS[1], ARGV[1])
`);

/**
 * KEYS: users (scored by createdAt). ARGV: how many, the cursor's createdAt or '', its id, the
 * filter's createdAfter or ''. Returns how many users were created after createdAfter (all of them
 * without it), and up to ARGV[1] ids with their scores, flat, in (score, id) order, from the later
 * of: just after the cursor, the first user created after createdAfter. Each start is found in
 * O(log n) (ZRANK, ZCOUNT), and ties in score are ordered by member bytes, as in
 * compareUserPositions. (Lua's own string comparison follows the server's locale, so it is not
 * used.) Users are never deleted; were the cursor's user gone, the page would start after every
 * user of its millisecond.
 */
export const pageUsers = { ...script(1, [], `
local start = 0
if ARGV[4] ~= '' then start = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[4]) end
if ARGV[2] ~= '' then
  local from
  local score = redis.call('ZSCORE', KEYS[1], ARGV[3])
  if score and tonumber(score) == tonumber(ARGV[2]) then
    from = redis.call('ZRANK', KEYS[1], ARGV[3]) + 1
  else
    from = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[2])
  end
  if from > start then start = from end
end
local total
if ARGV[4] == '' then total = redis.call('ZCARD', KEYS[1]) else total = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[4], '+inf') end
local entries = redis.call('ZRANGE', KEYS[1], start, start + tonumber(ARGV[1]) - 1, 'WITHSCORES')
return {total, entries}
`), readOnly: true };
