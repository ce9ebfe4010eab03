import { randomUUID } from "node:crypto";
import type { MailTokenPurpose, MailTokenRecord, MailTokenStore, NewSession, PresentedMailToken, RotateRequest, SessionStore, UserRecord, UserStore } from "../../../src/store/store";

/**
 * What every port's suite runs against: a store that serves at least that port (a whole Store, or
 * a directory backend with only the directory ports) and its clock.
 */
export interface ContractHarness<S> {
  readonly store: S;
  /** Waits until `ms` have passed for the store (real time for Redis, a moved clock for memory). */
  advance(ms: number): Promise<void>;
  /** The store's own notion of now, epoch ms. */
  now(): number;
}

let n = 0;
export const newUser = (overrides: Partial<UserRecord> = {}): UserRecord => ({
  id: randomUUID(),
  email: `contract-${++n}-${randomUUID()}@example.com`,
  roles: ["USER"],
  createdAt: Date.now(),
  disabled: false,
  ...overrides,
});

/** Users made through the directory. `get` is called at each use: the harness is made in beforeAll. */
export function userFixtures(get: () => ContractHarness<Pick<UserStore, "createUser">>) {
  const withUser = async (overrides: Partial<UserRecord> = {}) => {
    const user = newUser(overrides);
    expect(await get().store.createUser(user, "hash-of-" + user.id)).toBe(true);
    return user;
  };
  return { withUser };
}

/** Sessions started, and rotated strictly (no grace window) unless the test says otherwise. */
export function sessionFixtures(get: () => ContractHarness<Pick<SessionStore, "createSession" | "rotateSession">>) {
  const session = (userId: string, overrides: Partial<NewSession> = {}): NewSession => ({
    id: randomUUID(),
    userId,
    device: "phone",
    expiresAt: get().now() + 60_000,
    refreshJti: randomUUID(),
    assurance: { aal: "aal1", amr: ["pwd"] },
    ...overrides,
  });
  const rotate = (request: Omit<RotateRequest, "nextIssuedAt" | "graceMs"> & Partial<RotateRequest>) =>
    get().store.rotateSession({ nextIssuedAt: get().now(), graceMs: 0, ...request });
  const started = async (userId: string, overrides: Partial<NewSession> = {}) => {
    const result = await get().store.createSession(session(userId, overrides));
    if (result.status !== "created") throw new Error(result.status);
    return result.session;
  };
  return { session, rotate, started };
}

/** A mail token stored for the user, and the token its link would present. */
export function mailFixtures(get: () => ContractHarness<Pick<MailTokenStore, "putMailToken">>) {
  const put = (user: UserRecord, purpose: MailTokenPurpose, overrides: Partial<MailTokenRecord> = {}): Promise<PresentedMailToken> => {
    const token: MailTokenRecord = { hash: randomUUID(), expiresAt: get().now() + 60_000, email: user.email, ...overrides };
    return get().store.putMailToken(user.id, purpose, token).then(() => ({ userId: user.id, hash: token.hash, now: get().now() }));
  };
  return { put };
}
