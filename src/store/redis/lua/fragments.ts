/**
 * The Lua every concern's scripts share, each piece defined once: a script names the fragments it
 * uses and `lua` puts each in once, what it calls first. Times that order sessions (createdAt, the
 * cutoff) come from Redis' own clock, so instances with skewed clocks still agree on what "log out
 * everywhere" ended.
 */

/** A Lua function shared by scripts, and the fragments it calls. */
export interface Fragment {
  readonly lua: string;
  readonly uses: readonly Fragment[];
}

export const fragment = (lua: string, ...uses: Fragment[]): Fragment => ({ lua, uses });

/** A script's source: the fragments it uses (each once, those they call first), then its body. */
export function lua(uses: readonly Fragment[], body: string): string {
  const seen = new Set<Fragment>();
  const parts: string[] = [];
  const add = (used: Fragment): void => {
    if (seen.has(used)) return;
    seen.add(used);
    used.uses.forEach(add);
    parts.push(used.lua);
  };
  uses.forEach(add);
  return parts.join("") + body;
}

/** A script as ioredis defines it; no numberOfKeys: the caller passes the key count first. */
export interface Script {
  readonly lua: string;
  readonly numberOfKeys?: number;
  readonly readOnly?: boolean;
}

/** A script over `numberOfKeys` keys (null: a count the caller passes first), of its fragments and body. */
export function script(numberOfKeys: number | null, uses: readonly Fragment[], body: string): Script {
  const source = lua(uses, body);
  return numberOfKeys === null ? { lua: source } : { numberOfKeys, lua: source };
}

export const NOW_MS = fragment(`
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`);

/** The user's "log out everywhere" instant: sessions created at or before it are ended. 0 for none. */
export const CUTOFF = fragment(`
local function cutoff_at(cutoff_key)
  return tonumber(redis.call('GET', cutoff_key) or '0')
end
`);

/** A session key without its id: the user's other session keys share its hash tag, so they are built from it. */
export const SESSION_PREFIX = fragment(`
local function session_prefix(session_key, session_id)
  return string.sub(session_key, 1, #session_key - #session_id)
end
`);

/**
 * Ends each of the user's tracked sessions for which `matches(id, session)` holds (`session` nil
 * when its record is gone), and returns the ids of those that were live.
 */
export const END_SESSIONS = fragment(`
local function end_sessions(sessions_key, prefix, cutoff, matches)
  local ended = {}
  for _, id in ipairs(redis.call('ZRANGE', sessions_key, 0, -1)) do
    local raw = redis.call('GET', prefix .. id)
    local session = raw and cjson.decode(raw)
    if matches(id, session) then
      if session and session.createdAt > cutoff then table.insert(ended, id) end
      redis.call('DEL', prefix .. id)
      redis.call('ZREM', sessions_key, id)
    end
  end
  return ended
end
`);

/**
 * One write ends every session: the cutoff. It must outlive every session it ends, so its expiry
 * is the later of its current one and the newest session expiry. Returns how many were live.
 */
export const END_ALL = fragment(
  `
local function end_all(sessions_key, cutoff_key)
  local now = now_ms()
  local live = redis.call('ZCOUNT', sessions_key, '(' .. now, '+inf')
  local expires_at = now + 1000
  local last = redis.call('ZRANGE', sessions_key, -1, -1, 'WITHSCORES')
  if last[2] then expires_at = math.max(expires_at, tonumber(last[2])) end
  local ttl = redis.call('PTTL', cutoff_key)
  if ttl > 0 then expires_at = math.max(expires_at, now + ttl) end
  -- Never move the cutoff back (a clock step after a failover), or ended sessions would revive.
  local at = math.max(now, cutoff_at(cutoff_key))
  redis.call('SET', cutoff_key, at, 'PXAT', expires_at)
  redis.call('DEL', sessions_key)
  return live
end
`,
  NOW_MS,
  CUTOFF,
);

/**
 * Takes the user's mail token from `token_key` when its hash is `hash` and it is live at `now`
 * (epoch ms, the API's clock); a wrong hash leaves it in place, so guessing cannot cancel a link.
 * Returns the decoded record, or nil.
 */
export const TAKE_MAIL_TOKEN = fragment(`
local function take_mail_token(token_key, hash, now)
  local raw = redis.call('GET', token_key)
  if not raw then return nil end
  local token = cjson.decode(raw)
  if token.hash ~= hash then return nil end
  redis.call('DEL', token_key)
  if tonumber(token.expiresAt) <= tonumber(now) then return nil end
  return token
end
`);

/** Frees a claim on the directory (an address, a credential id) if `owner` holds it: 1, else 0. */
export const RELEASE_CLAIM = fragment(`
local function release_claim(key, owner)
  if redis.call('GET', key) ~= owner then return 0 end
  redis.call('DEL', key)
  return 1
end
`);

/**
 * The compact access record (../access-line.ts, which builds the same line in TypeScript): written
 * beside the JSON record by every script that changes the record, with the user's access version.
 * Its key and the version's are the record key's siblings (same hash tag, so the same slot).
 */
export const ACCESS_LINE = fragment(`
local function user_key_sibling(user_key, name)
  return string.sub(user_key, 1, #user_key - 4) .. name
end
local function access_flag(value)
  if value == true then return '1' elseif value == false then return '0' else return '-' end
end
local function write_access_line(user_key, user)
  local version = tonumber(redis.call('GET', user_key_sibling(user_key, 'access-version')) or '0')
  local flags = (user.disabled == true and '1' or '0') .. access_flag(user.mfaEnabled) .. access_flag(user.emailVerified)
  local roles = {}
  for i, role in ipairs(user.roles) do roles[i] = role end
  local line = '1|' .. string.format('%d', version) .. '|' .. flags .. '|' .. string.format('%.0f', user.createdAt) .. '|' .. table.concat(roles, ',') .. '|' .. user.email
  redis.call('SET', user_key_sibling(user_key, 'access-record'), line)
  return line
end
`);

/** Writes the user's JSON record and its access record in one step; returns the JSON. */
export const PUT_USER = fragment(
  `
local function put_user(user_key, user)
  local encoded = cjson.encode(user)
  redis.call('SET', user_key, encoded)
  write_access_line(user_key, user)
  return encoded
end
`,
  ACCESS_LINE,
);
