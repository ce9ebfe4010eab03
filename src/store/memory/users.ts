import { compareUserPositions, userMatches, type Credentials, type UserPage, type UserPageRequest, type UserRecord, type UserStore } from "../store";
import type { MemoryCore } from "./core";

/** The directory: users, their addresses and password hashes. */
export function memoryUsers(core: MemoryCore): UserStore {
  return {
    async createUser(user: UserRecord, passwordHash: string): Promise<boolean> {
      if (core.emails.has(user.email) || core.users.has(user.id)) return false;
      core.users.set(user.id, user);
      core.passwords.set(user.id, passwordHash);
      core.emails.set(user.email, user.id);
      return true;
    },

    async findUserIdByEmail(email: string): Promise<string | null> {
      return core.emails.get(email) ?? null;
    },

    async getUser(userId: string): Promise<UserRecord | null> {
      return core.users.get(userId) ?? null;
    },

    async getCredentials(userId: string): Promise<Credentials | null> {
      const user = core.users.get(userId);
      const passwordHash = core.passwords.get(userId);
      return user && passwordHash ? { user, passwordHash } : null;
    },

    async listUsers({ first, after, filter }: UserPageRequest): Promise<UserPage> {
      const all = [...core.users.values()];
      const sorted = (filter ? all.filter((user) => userMatches(user, filter)) : all).sort(compareUserPositions);
      const rest = after ? sorted.filter((user) => compareUserPositions(user, after) > 0) : sorted;
      return { users: rest.slice(0, first), hasNextPage: rest.length > first, totalCount: sorted.length };
    },
  };
}
