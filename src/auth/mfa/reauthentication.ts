import { badInput } from "../../errors";
import type { Accounts, Origin } from "../accounts/accounts";
import type { Identity } from "../tokens/authenticator";
import type { Mfa } from "./mfa";

/** What the caller proves again: exactly one of the two. */
export interface ReauthenticationInput {
  readonly password?: string | null;
  /** A current TOTP code or an unused recovery code. */
  readonly code?: string | null;
}

/**
 * `reauthenticate`: the caller proves a credential again in the session they act from, which then
 * counts as recently authenticated for REAUTH_MAX_AGE_SECONDS (Sessions.requireRecentAuthentication
 * is the gate). The password goes through changePassword's throttled check, a code through
 * verifyMfa's; a wrong one answers as they do.
 */
export class Reauthentication {
  constructor(
    private readonly accounts: Accounts,
    private readonly mfa: Mfa,
  ) {}

  async reauthenticate(identity: Identity, input: ReauthenticationInput, origin: Origin): Promise<void> {
    const password = input.password ?? null;
    const code = input.code ?? null;
    if ((password === null) === (code === null)) throw badInput("Give exactly one of password and code");
    if (password !== null) await this.accounts.reauthenticate(identity, password, origin);
    else await this.mfa.reauthenticate(identity, code!, origin);
  }
}
