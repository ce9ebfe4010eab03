import { keys } from "@revocable-auth/verifier/internal";
import { userMatches, type Credentials, type UserFilter, type UserPage, type UserPageRequest, type UserPosition, type UserRecord, type UserStore } from "../store";
import { encodeAccessLine } from "./access-line";
import { parseJson, type RedisCore } from "./core";

/**
 * A new user's records expire unless the email claim commits within this time, so a register
 * that fails part-way leaves nothing behind for good.
 */
export const PENDING_USER_TTL_MS = 60_000;

/**
 * A filter on a record's fields (emailContains, role, disabled) is applied while reading: the index
 * holds only (createdAt, id), and each record lives in its user's slot. One page reads at most this
 * many users, in chunks of SCAN_CHUNK, each chunk one guarded step (one script, then one GET per
 * user, sent together); a page that read that many without filling comes back short, with where to
 * go on from. Counting the matches reads every user after createdAfter: O(users), done only when
 * the caller reads totalCount. createdAfter alone is answered from the index, like no filter.
 */
export const USERS_SCAN_MAX = 5000;
const SCAN_CHUNK = 250;
const COUNT_CHUNK = 1000;

interface IndexEntry {
  readonly position: UserPosition;
  readonly user: UserRecord | null;
}

/** The directory: users, their addresses (claimed on {directory}) and password hashes. */
export function redisUsers(core: RedisCore, scanMax = USERS_SCAN_MAX): UserStore {
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
        const userKeys = [keys.user(user.id), keys.password(user.id), keys.accessRecord(user.id)] as const;
        const created = await core.client
          .multi()
          .set(userKeys[0], JSON.stringify(user), "PX", PENDING_USER_TTL_MS, "NX")
          .set(userKeys[1], passwordHash, "PX", PENDING_USER_TTL_MS)
          .set(userKeys[2], encodeAccessLine(user, 0), "PX", PENDING_USER_TTL_MS)
          .exec();
        if (created?.[0]?.[1] !== "OK") return false;
        // The email claim is the commit point; until the records are kept they expire by themselves.
        const claimed =
          (await claimEmail(user)) || ((await releaseAbandonedClaim(user.email)) && (await claimEmail(user)));
        if (!claimed) {
          await core.client.del(...userKeys);
          return false;
        }
        throwOnReplyErrors(await core.client.multi().persist(userKeys[0]).persist(userKeys[1]).persist(userKeys[2]).exec());
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

    listUsers({ first, after, filter, countTotal }: UserPageRequest): Promise<UserPage> {
      const createdAfter = filter?.createdAfter ?? null;
      if (filter == null || !filtersRecords(filter)) {
        return core.guard(async () => {
          const { total, positions } = await readIndex(first + 1, after, createdAfter);
          const users = (await readUsers(positions.slice(0, first))).flatMap(({ user }) => (user ? [user] : []));
          return { users, hasNextPage: positions.length > first, totalCount: total };
        });
      }
      return scanPage(first, after, filter, countTotal !== false);
    },
  };

  /** Up to `count` positions in order, from after `after` and after `createdAfter`; and how many users follow createdAfter. */
  async function readIndex(count: number, after: UserPosition | null, createdAfter: number | null) {
    const [total, flat] = (await core.script("pageUsers", [keys.users()], [count, after?.createdAt ?? "", after?.id ?? "", createdAfter ?? ""])) as [number, string[]];
    const positions: UserPosition[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) positions.push({ id: flat[i]!, createdAt: Number(flat[i + 1]) });
    return { total: Number(total), positions };
  }

  /** Each user's record lives in that user's slot: one GET each, sent together. Null: gone (a register that failed). */
  async function readUsers(positions: readonly UserPosition[]): Promise<IndexEntry[]> {
    const raws = await Promise.all(positions.map(({ id }) => core.client.get(keys.user(id))));
    return positions.map((position, i) => ({ position, user: parseJson<UserRecord>(raws[i] ?? null) }));
  }

  /** The next `count` users after `after`, records and all: one guarded step. */
  function readChunk(count: number, after: UserPosition | null, createdAfter: number | null): Promise<IndexEntry[]> {
    return core.guard(async () => readUsers((await readIndex(count, after, createdAfter)).positions));
  }

  async function scanPage(first: number, after: UserPosition | null, filter: UserFilter, countTotal: boolean): Promise<UserPage> {
    const createdAfter = filter.createdAfter ?? null;
    const found: UserRecord[] = [];
    let position = after;
    let scanned = 0;
    let exhausted = false;
    while (found.length <= first && !exhausted && scanned < scanMax) {
      const count = Math.min(SCAN_CHUNK, scanMax - scanned);
      const chunk = await readChunk(count, position, createdAfter);
      exhausted = chunk.length < count;
      for (const entry of chunk) {
        scanned++;
        position = entry.position;
        if (entry.user && userMatches(entry.user, filter)) found.push(entry.user);
        if (found.length > first) break;
      }
    }
    const filled = found.length > first;
    const hasNextPage = filled || !exhausted;
    // From the start of the range and to its end, the page has seen every match: no second pass.
    const counted = after === null && exhausted && !filled ? found.length : null;
    return {
      users: found.slice(0, first),
      hasNextPage,
      resumeAfter: hasNextPage && !filled ? position : null,
      totalCount: counted ?? (countTotal ? await countMatches(filter) : null),
    };
  }

  /** Every user after createdAfter read once, chunk by chunk: O(users). */
  async function countMatches(filter: UserFilter): Promise<number> {
    let matches = 0;
    let position: UserPosition | null = null;
    for (;;) {
      const chunk = await readChunk(COUNT_CHUNK, position, filter.createdAfter ?? null);
      for (const entry of chunk) if (entry.user && userMatches(entry.user, filter)) matches++;
      if (chunk.length < COUNT_CHUNK) return matches;
      position = chunk.at(-1)!.position;
    }
  }
}

/** Whether the filter asks about a record's fields, which the index does not hold. */
function filtersRecords(filter: UserFilter): boolean {
  return filter.emailContains != null || filter.role != null || filter.disabled != null;
}

/** A MULTI's replies carry their errors instead of throwing them. */
function throwOnReplyErrors(replies: [Error | null, unknown][] | null): void {
  const failed = replies?.find(([error]) => error !== null);
  if (failed) throw failed[0];
  if (replies === null) throw new Error("MULTI was aborted");
}
