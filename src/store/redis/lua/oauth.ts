import { script } from "./fragments";

/** oidc-provider's records (src/store/redis/oauth-models.ts): each on its own key. */

/** KEYS: a record. ARGV: epoch seconds. 1 the first time, 0 when consumed already or gone: one redemption wins. */
export const consumeOAuthModel = script(1, [], `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])
`);
