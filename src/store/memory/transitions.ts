import { isLiveSession, unguardedAccessChanges, type AccessChange, type AccessChangeResult, type EmailChangeCancelResult, type EmailChangeResult, type PresentedMailToken, type RemovePasskeyResult, type TransitionStore, type UserRecord } from "../store";
import type { MemoryCore } from "./core";

/** The steps that span concerns, each one synchronous function over the maps of all it touches. */
export function memoryTransitions(core: MemoryCore): TransitionStore {
  /** Claims `email` for the user on the directory, frees the old one, and marks the new one verified. */
  function moveEmail(user: UserRecord, email: string): UserRecord {
    if (core.emails.get(user.email) === user.id) core.emails.delete(user.email);
    core.emails.set(email, user.id);
    const updated = { ...user, email, emailVerified: true };
    core.users.set(user.id, updated);
    return updated;
  }

  /** One synchronous step: the guard, the record and the index together. */
  async function changeAccess(userId: string, change: AccessChange, keepAnAdmin: boolean): Promise<AccessChangeResult> {
    const user = core.users.get(userId);
    if (!user) return { status: "user_missing" };
    const updated: UserRecord = { ...user, roles: [...(change.roles ?? user.roles)], disabled: change.disabled ?? user.disabled };
    const isAdmin = (u: UserRecord) => !u.disabled && u.roles.includes("ADMIN");
    if (keepAnAdmin && isAdmin(user) && !isAdmin(updated) && core.enabledAdmins.size - (core.enabledAdmins.has(userId) ? 1 : 0) < 1) {
      return { status: "last_admin" };
    }
    core.users.set(userId, updated);
    if (isAdmin(updated)) core.enabledAdmins.add(userId);
    else core.enabledAdmins.delete(userId);
    if (updated.disabled) {
      core.endAll(userId);
      core.cancelPendingEmailChange(userId);
    }
    return { status: "changed", user: updated };
  }

  return {
    changeAccess,
    ...unguardedAccessChanges(changeAccess),

    async changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean> {
      if (!isLiveSession(core.session(userId, keepSessionId), core.cutoff(userId))) return false;
      core.passwords.set(userId, passwordHash);
      core.endOthers(userId, keepSessionId);
      core.cancelPendingEmailChange(userId);
      return true;
    },

    async resetPassword(token: PresentedMailToken, passwordHash: string): Promise<UserRecord | null> {
      const user = core.users.get(token.userId);
      const record = core.takeToken(token, "password_reset");
      if (!user || !record || record.email !== user.email) return null;
      const updated = { ...user, emailVerified: true };
      core.users.set(user.id, updated);
      core.passwords.set(user.id, passwordHash);
      core.cancelPendingEmailChange(user.id);
      core.endAll(user.id);
      return updated;
    },

    async verifyEmail(token: PresentedMailToken): Promise<UserRecord | null> {
      const user = core.users.get(token.userId);
      const record = core.takeToken(token, "email_verification");
      if (!user || !record || record.email !== user.email) return null;
      const updated = { ...user, emailVerified: true };
      core.users.set(user.id, updated);
      return updated;
    },

    async changeEmail(token: PresentedMailToken): Promise<EmailChangeResult> {
      const user = core.users.get(token.userId);
      const record = core.takeToken(token, "email_change");
      if (!user || !record) return { status: "invalid" };
      // The change dies with what vouched for it: the session that asked, and the account being enabled.
      const asking = record.sessionId;
      if (user.disabled || asking === undefined || !isLiveSession(core.session(user.id, asking), core.cutoff(user.id))) return { status: "invalid" };
      const owner = core.emails.get(record.email);
      if (owner !== undefined && owner !== user.id) return { status: "taken" };
      const updated = moveEmail(user, record.email);
      const ended = core.endOthers(user.id, asking);
      return { status: "changed", user: updated, ended, keptSessionId: asking };
    },

    async cancelEmailChange(token: PresentedMailToken): Promise<EmailChangeCancelResult> {
      const user = core.users.get(token.userId);
      const record = core.takeToken(token, "email_change_cancel");
      if (!user || !record) return { status: "invalid" };
      core.cancelPendingEmailChange(user.id);
      core.passwords.delete(user.id);
      const owner = core.emails.get(record.email);
      const reverted = user.email !== record.email && (owner === undefined || owner === user.id);
      const current = reverted ? moveEmail(user, record.email) : user;
      return { status: "cancelled", user: current, ended: core.endAll(user.id), reverted };
    },

    async removePasskey(userId: string, credentialId: string): Promise<RemovePasskeyResult> {
      const held = core.passkeys.get(userId);
      if (!held?.has(credentialId)) return { status: "missing" };
      if (!core.passwords.get(userId) && held.size <= 1 && core.identitiesOf(userId) === 0) return { status: "last_way_in" };
      held.delete(credentialId);
      if (core.passkeyOwners.get(credentialId) === userId) core.passkeyOwners.delete(credentialId);
      const cutoff = core.cutoff(userId);
      const sessions = core.sessionsOf(userId);
      const sessionIds: string[] = [];
      for (const [id, session] of [...sessions]) {
        if (session.passkeyId !== credentialId) continue;
        if (isLiveSession(core.session(userId, id), cutoff)) sessionIds.push(id);
        sessions.delete(id);
      }
      return { status: "removed", ended: sessionIds.length, sessionIds };
    },
  };
}
