import { script, TAKE_MAIL_TOKEN } from "./fragments";

/** The tokens of mailed links, on the user's slot. */

/** KEYS: the token. ARGV: token hash, now. Consumes a matching token; returns it while live, else false. */
export const takeMailToken = script(1, [TAKE_MAIL_TOKEN], `
local raw = redis.call('GET', KEYS[1])
if not take_mail_token(KEYS[1], ARGV[1], ARGV[2]) then return false end
return raw
`);
