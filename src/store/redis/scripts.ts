import * as access from "./lua/access";
import * as audit from "./lua/audit";
import * as federation from "./lua/federation";
import * as backchannelLogout from "./lua/backchannel-logout";
import * as mailTokens from "./lua/mail-tokens";
import * as mfa from "./lua/mfa";
import * as oauth from "./lua/oauth";
import * as passkeys from "./lua/passkeys";
import * as sessions from "./lua/sessions";
import * as transitions from "./lua/transitions";
import * as users from "./lua/users";

/**
 * Every Lua script, by the name RedisCore defines it under: one file a concern in lua/, each script
 * atomic on one hash-tagged slot, built from the shared fragments in lua/fragments.ts.
 */
export const scripts = { ...users, ...sessions, ...mfa, ...passkeys, ...mailTokens, ...transitions, ...audit, ...access, ...federation, ...oauth, ...backchannelLogout };
