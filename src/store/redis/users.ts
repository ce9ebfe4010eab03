import { keys } from "@revocable-auth/verifier/internal";
import type { Credentials, UserPage, UserPageRequest, UserRecord, UserStore } from "../store";
import { parseJson, type RedisCore } from "./core";

/**
 * A new user's records expire unless the email claim commits within this time, so a register
 * that fails part-way leaves nothing behind for good.
 */
export const PENDING_USER_TTL_MS = 60_000;

/** The directory: users, their addresses (claimed on {directory}) and password hashes. */
export function redisUsers(core: RedisCore): UserStore {
  async function claimEmail(user: UserRecord): Promise<boolean> {
    return (await core.script("claimEmail", [keys.email(user.email), keys.users()], [user.id, String(user.createdAt)])) === 1;
  }

  /** A claim whose user record has expired (its register failed before keeping it) is freed once. */
  async function releaseAbandonedClaim(email: string): Promise<boolean> {
    const claimedBy = await core.client.get(keys.email(email));
    if (claimedBy === null || (await core.client.exists(keys.user(claimedBy))) === 1) return false;
    return (await core.script("releaseEmail", [keys.email(email), keys.users()], [claimedBy])) === 1;
  }

  return {
    async createUser(user: UserRecord, passwordHash: string): Promise<boolean> {
      return core.guard(async () => {
        const userKeys = [keys.user(user.id), keys.password(user.id)] as const;
        const created = await core.client
          .multi()
          .set(userKeys[0], JSON.stringify(user), "PX", PENDING_USER_TTL_MS, "NX")
          .set(userKeys[1], passwordHash, "PX", PENDING_USER_TTL_MS)
          .exec();
        if (created?.[0]?.[1] !== "OK") return false;
        // The email claim is the commit point; until the records are kept they expire by themselves.
        const claimed =
          (await claimEmail(user)) || ((await releaseAbandonedClaim(user.email)) && (await claimEmail(user)));
        if (!claimed) {
          await core.client.del(...userKeys);
          return false;
        }
        throwOnReplyErrors(await core.client.multi().persist(userKeys[0]).persist(userKeys[1]).exec());
        return true;
      });
    },

    findUserIdByEmail(email: string): Promise<string | null> {
      return core.guard(() => core.client.get(keys.email(email)));
    },

    getUser(userId: string): Promise<UserRecord | null> {
      return core.guard(async () => parseJson<UserRecord>(await core.client.get(keys.user(userId))));
    },

    getCredentials(userId: string): Promise<Credentials | null> {
      return core.guard(async () => {
        const [user, passwordHash] = await core.client.mget(keys.user(userId), keys.password(userId));
        return user === null || passwordHash === null ? null : { user: JSON.parse(user) as UserRecord, passwordHash };
      });
    },

    listUsers({ first, after }: UserPageRequest): Promise<UserPage> {
      return core.guard(async () => {
        const [total, ids] = (await core.script("pageUsers", [keys.users()], [first, after?.createdAt ?? "", after?.id ?? ""])) as [number, string[]];
        // Each user's record lives in that user's slot: one GET each, sent together.
        const raws = await Promise.all(ids.slice(0, first).map((id) => core.client.get(keys.user(id))));
        const users = raws.map((raw) => parseJson<UserRecord>(raw)).filter((user) => user !== null);
        return { users, hasNextPage: ids.length > first, totalCount: Number(total) };
      });
    },
  };
}

/** A MULTI's replies carry their errors instead of throwing them. */
function throwOnReplyErrors(replies: [Error | null, unknown][] | null): void {
  const failed = replies?.find(([error]) => error !== null);
  if (failed) throw failed[0];
  if (replies === null) throw new Error("MULTI was aborted");
}
