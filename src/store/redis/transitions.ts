import { isLiveSession, keys } from "@revocable-auth/verifier/internal";
import { storeUnavailable } from "../../errors";
import { unguardedAccessChanges, type AccessChange, type AccessChangeResult, type EmailChangeCancelResult, type EmailChangeResult, type MailTokenRecord, type PresentedMailToken, type RemovePasskeyResult, type SessionRecord, type TransitionStore, type UserRecord } from "../store";
import { parseJson, toNumber, type RedisCore } from "./core";

/**
 * The steps that span concerns: each one script on the user's slot, after a decision or a
 * claim on {directory} where the change needs one (an access change, a new address).
 */
export function redisTransitions(core: RedisCore): TransitionStore {
  /**
   * Two steps on two slots: the {directory} script decides the change against every other one
   * (the LAST_ADMIN guard and the index, atomically), then the user's slot copies the decided
   * state unless a later one is there. Whatever the interleaving, once the calls have returned the
   * records equal the directory's states, which always hold an enabled admin. A call that fails
   * between the steps leaves the record behind until the next change of that user (a retry) copies it.
   */
  function changeAccess(userId: string, change: AccessChange, keepAnAdmin: boolean): Promise<AccessChangeResult> {
    return core.guard(async () => {
      const current = parseJson<UserRecord>(await core.client.get(keys.user(userId)));
      if (current === null) return { status: "user_missing" };
      const [status, state] = await core.durableScript(
        "decideAccess",
        [keys.access(), keys.enabledAdmins()],
        [userId, JSON.stringify({ roles: current.roles, disabled: current.disabled }), JSON.stringify(change), keepAnAdmin ? "1" : "0"],
      );
      if (status === "last_admin") return { status };
      const userKeys = [keys.user(userId), keys.sessions(userId), keys.cutoff(userId), keys.accessVersion(userId), keys.mailToken(userId, "email_change")];
      const user = parseJson<UserRecord>(await core.durableScript("applyAccess", userKeys, [state]));
      return user === null ? { status: "user_missing" } : { status: "changed", user };
    });
  }

  /** Claims `email` on the directory for the user, freeing nothing; false when another account holds it. */
  async function claimAddress(userId: string, email: string): Promise<boolean> {
    return (await core.script("claimAddress", [keys.email(email)], [userId])) === 1;
  }

  async function isLive(userId: string, sessionId: string): Promise<boolean> {
    const [session, cutoff] = await core.client.mget(keys.session(userId, sessionId), keys.cutoff(userId));
    return isLiveSession(parseJson<SessionRecord>(session), toNumber(cutoff));
  }

  /** The token at `tokenKey` and its user, read in one MGET, when the token matches and is live; reads only. */
  async function readLiveMailToken(token: PresentedMailToken, tokenKey: string): Promise<{ record: MailTokenRecord; user: UserRecord } | null> {
    const [rawToken, rawUser] = await core.client.mget(tokenKey, keys.user(token.userId));
    const record = parseJson<MailTokenRecord>(rawToken);
    const user = parseJson<UserRecord>(rawUser);
    return record && user && record.hash === token.hash && record.expiresAt > token.now ? { record, user } : null;
  }

  /**
   * Frees the user's claim on `email` unless the record holds that address. Called after the
   * user's script has run, so a move between the read and the release is one that script made.
   */
  async function releaseUnheldClaim(userId: string, email: string): Promise<void> {
    const now = parseJson<UserRecord>(await core.client.get(keys.user(userId)));
    if (now?.email !== email) await core.script("releaseClaim", [keys.email(email)], [userId]);
  }

  return {
    changeAccess,
    ...unguardedAccessChanges(changeAccess),

    changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean> {
      return core.guard(async () => (await core.endOthers(userId, keepSessionId, passwordHash)) >= 0);
    },

    resetPassword(token: PresentedMailToken, passwordHash: string): Promise<UserRecord | null> {
      return core.guard(async () => {
        const { userId } = token;
        const scriptKeys = [keys.mailToken(userId, "password_reset"), keys.password(userId), keys.user(userId), keys.sessions(userId), keys.cutoff(userId), keys.mailToken(userId, "email_change")];
        return parseJson<UserRecord>(await core.durableScript("resetPassword", scriptKeys, [token.hash, token.now, passwordHash]));
      });
    },

    verifyEmail(token: PresentedMailToken): Promise<UserRecord | null> {
      return core.guard(async () => {
        const scriptKeys = [keys.mailToken(token.userId, "email_verification"), keys.user(token.userId)];
        return parseJson<UserRecord>(await core.script("verifyEmail", scriptKeys, [token.hash, token.now]));
      });
    },

    /**
     * Three steps, since the directory and the user live in two slots: read the token, the record and
     * the session that asked, claim the new address on {directory}, then one script on the user's
     * slot checks again, consumes the token and switches the record. When that script does not take
     * the change, the claim is given back.
     */
    changeEmail(token: PresentedMailToken): Promise<EmailChangeResult> {
      return core.guard(async () => {
        const { userId } = token;
        const tokenKey = keys.mailToken(userId, "email_change");
        const read = await readLiveMailToken(token, tokenKey);
        if (!read) return { status: "invalid" };
        const { record, user } = read;
        const asking = record.sessionId;
        if (user.disabled || asking === undefined || !(await isLive(userId, asking))) {
          await core.client.del(tokenKey);
          return { status: "invalid" };
        }
        if (!(await claimAddress(userId, record.email))) {
          await core.client.del(tokenKey);
          return { status: "taken" };
        }
        const scriptKeys = [tokenKey, keys.user(userId), keys.sessions(userId), keys.cutoff(userId), keys.session(userId, asking)];
        const [status, raw, ended] = await core.durableScript("applyEmailChange", scriptKeys, [token.hash, token.now, asking]);
        // Either way one of the two claims is now held for nothing: the old address after the move,
        // the new one when the script did not take it (the token is spent then, so no later call can).
        await releaseUnheldClaim(userId, status === "changed" ? user.email : record.email);
        if (status === "changed") return { status, user: JSON.parse(raw) as UserRecord, ended: Number(ended), keptSessionId: asking };
        return { status: "invalid" };
      });
    },

    /**
     * As changeEmail, the other way. Decided on the address read first; the script answers 'retry'
     * (spending nothing) when a confirmation moved the account in between, and it is decided again.
     */
    cancelEmailChange(token: PresentedMailToken): Promise<EmailChangeCancelResult> {
      return core.guard(async () => {
        const { userId } = token;
        const tokenKey = keys.mailToken(userId, "email_change_cancel");
        for (let attempt = 0; attempt < CANCEL_ATTEMPTS; attempt++) {
          const read = await readLiveMailToken(token, tokenKey);
          if (!read) return { status: "invalid" };
          const { record, user } = read;
          const moveBack = user.email !== record.email && (await claimAddress(userId, record.email));
          const scriptKeys = [tokenKey, keys.user(userId), keys.sessions(userId), keys.cutoff(userId), keys.mailToken(userId, "email_change"), keys.password(userId)];
          const [status, raw, ended, reverted] = await core.durableScript("cancelEmailChange", scriptKeys, [
            token.hash,
            token.now,
            moveBack ? record.email : "",
            user.email,
          ]);
          if (moveBack) await releaseUnheldClaim(userId, reverted === 1 ? user.email : record.email);
          if (status === "retry") continue;
          if (status !== "cancelled") return { status: "invalid" };
          return { status, user: JSON.parse(raw) as UserRecord, ended: Number(ended), reverted: reverted === 1 };
        }
        // Confirmations kept moving the account under it: refuse this one, its link still works.
        throw storeUnavailable();
      });
    },

    removePasskey(userId: string, credentialId: string): Promise<RemovePasskeyResult> {
      return core.guard(async () => {
        const scriptKeys = [keys.passkeys(userId), keys.sessions(userId), keys.cutoff(userId), keys.password(userId), keys.session(userId, ""), keys.identities(userId)];
        // Durable: it ends sessions, as any revocation.
        const [status, ...sessionIds] = (await core.durableScript("removePasskey", scriptKeys, [credentialId])) as [string, ...string[]];
        if (status !== "removed") return { status: status as "missing" | "last_way_in" };
        await core.script("releaseClaim", [keys.passkeyOwner(credentialId)], [userId]);
        return { status, ended: sessionIds.length, sessionIds };
      });
    },
  };
}

/** How often a "this was not me" is decided again when confirmations keep moving the account meanwhile. */
const CANCEL_ATTEMPTS = 3;
