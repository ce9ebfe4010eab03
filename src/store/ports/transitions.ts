import type { Role } from "@revocable-auth/verifier";
import type { PresentedMailToken } from "./mail-tokens";
import type { UserRecord } from "./users";

/**
 * The atomic steps that span concerns: each changes the directory (a password, an address, the
 * roles or disabled flag, a passkey) and ends sessions or consumes a mail token in the same step.
 * Today each is one Lua script on the user's slot (or a {directory} claim, then one such script)
 * and one synchronous function in memory; named here, apart from the ports they span, so no
 * backend splits one by accident. With the directory in Postgres and the hot state in Redis, each
 * becomes the documented two-store write (Postgres first, then Redis, repaired by a version).
 */

export interface AccessChange {
  readonly roles?: readonly Role[];
  readonly disabled?: boolean;
}

export type AccessChangeResult =
  | { readonly status: "changed"; readonly user: UserRecord }
  | { readonly status: "last_admin" }
  | { readonly status: "user_missing" };

export type EmailChangeResult =
  /** `keptSessionId`: the session that asked, which goes on. */
  | { readonly status: "changed"; readonly user: UserRecord; readonly ended: number; readonly keptSessionId: string }
  /** Another account holds the new address now; nothing changed and the token is gone. */
  | { readonly status: "taken" }
  /**
   * Unknown, used, expired, superseded or cancelled token; or what vouched for it is gone: the
   * session that asked ended, or the account was disabled.
   */
  | { readonly status: "invalid" };

export type EmailChangeCancelResult =
  /** `reverted`: the change had gone through, and the account is back on the address the notice went to. */
  | { readonly status: "cancelled"; readonly user: UserRecord; readonly ended: number; readonly reverted: boolean }
  | { readonly status: "invalid" };

export type RemovePasskeyResult =
  /** `ended`: how many live sessions the passkey had started, ended in the same step. */
  | { readonly status: "removed"; readonly ended: number; readonly sessionIds: readonly string[] }
  | { readonly status: "missing" }
  /** No password and no other passkey: the user would have no way in. Nothing changed. */
  | { readonly status: "last_way_in" };

/** Spans the directory and the hot state: each method one atomic step (README.md). */
export interface TransitionStore {
  /**
   * Stores a new password hash, ends every session but `keepSessionId` and cancels a pending email
   * change, in one step. False, changing nothing, when `keepSessionId` is no longer live.
   */
  changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean>;
  /**
   * Changes a user's roles and/or disabled flag (disabling ends every session and cancels a pending
   * email change), keeping the index
   * of enabled admins equal to the records. With `keepAnAdmin`, a change that would leave no
   * enabled admin is refused and changes nothing. Changes of one user, from any instance, apply in
   * one order and the last one decided wins (see docs/revocation.md). setUserDisabled and
   * setUserRoles are this without the guard.
   */
  changeAccess(userId: string, change: AccessChange, keepAnAdmin: boolean): Promise<AccessChangeResult>;
  /** Sets the flag; disabling also ends every session. Null when no such user. */
  setUserDisabled(userId: string, disabled: boolean): Promise<UserRecord | null>;
  /** Replaces the user's roles. Null when no such user. */
  setUserRoles(userId: string, roles: readonly Role[]): Promise<UserRecord | null>;
  /**
   * Consumes a live password_reset token mailed to the user's current address and, in the same
   * step, stores the new password hash, marks the address verified and ends every session (the
   * "log out everywhere" cutoff), and cancels a pending email change. Null, changing nothing,
   * when the token does not match.
   */
  resetPassword(token: PresentedMailToken, passwordHash: string): Promise<UserRecord | null>;
  /**
   * Consumes a live email_verification token and marks the address verified, when the token was
   * mailed to the user's current address. Null otherwise (a matching token is consumed anyway).
   */
  verifyEmail(token: PresentedMailToken): Promise<UserRecord | null>;
  /**
   * Consumes a live email_change token: the new address is claimed on the directory (one account
   * per address), the old one released, the record switched and marked verified, and every
   * session but the one that asked ends. Redis: a claim on {directory}, then one script on the
   * user's slot; a failed second step gives the address back.
   */
  changeEmail(token: PresentedMailToken): Promise<EmailChangeResult>;
  /**
   * Consumes a live email_change_cancel token ("this was not me", mailed to the old address): the
   * pending change is cancelled, every session ends and the password is removed (whoever asked knew
   * it; a reset sets a new one), in one step. When the account is on another
   * address than the one the token was mailed to (a change went through), it moves back to that
   * address, unless another account claimed it meanwhile. Redis: as changeEmail, a claim on
   * {directory} first, given back when the user's script does not take it.
   */
  cancelEmailChange(token: PresentedMailToken): Promise<EmailChangeCancelResult>;
  /**
   * Removes a passkey and ends the sessions it started, in one step, unless it is the user's last
   * way in (no password, no other passkey); then frees its credential id on the directory.
   */
  removePasskey(userId: string, credentialId: string): Promise<RemovePasskeyResult>;
}

/** setUserDisabled and setUserRoles as every backend has them: changeAccess without the guard. */
export function unguardedAccessChanges(changeAccess: TransitionStore["changeAccess"]): Pick<TransitionStore, "setUserDisabled" | "setUserRoles"> {
  const changed = async (userId: string, change: AccessChange) => {
    const result = await changeAccess(userId, change, false);
    return result.status === "changed" ? result.user : null;
  };
  return {
    setUserDisabled: (userId, disabled) => changed(userId, { disabled }),
    setUserRoles: (userId, roles) => changed(userId, { roles }),
  };
}
