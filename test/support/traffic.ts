import { LogoutDocument, MeDocument } from "../../schema/generated/graphql";
import { login, register, send } from "./client";
import { eventually } from "./redis-node";

export interface Observation {
  readonly at: number;
  readonly status: number;
  readonly reason: unknown;
}

/** Sends `me` with `token` back to back until stopped, recording every answer. */
function keepAsking(url: string, token: string): { readonly seen: Observation[]; stop(): Promise<void> } {
  const seen: Observation[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const result = await send(url, MeDocument, {}, { token }).catch(() => null);
      seen.push({ at: Date.now(), status: result?.status ?? 0, reason: result?.error?.reason ?? null });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
    },
  };
}

export interface FailoverRun {
  /** Answers to `me` with a token logged out just before the kill. */
  readonly revoked: Observation[];
  /** Answers to `me` with a live token of the same user, through the whole failover. */
  readonly live: Observation[];
  /** The revoked token's answer once the live one succeeds again. */
  readonly revokedAfter: Awaited<ReturnType<typeof send>>;
  readonly userId: string;
}

/**
 * The failover scenario both topologies run: a user with a live and a logged-out token, traffic
 * with both, then `kill` (SIGKILL of the master that holds the user) under that traffic, until the
 * live token succeeds again. The logout is retried until confirmed, so the replicas are in sync.
 */
export async function failOverUnderTraffic(
  url: string,
  kill: (userId: string) => Promise<void>,
  recoversWithinMs: number,
  /** What the topology says about itself, added to the error when it does not recover in time. */
  describeTopology: () => Promise<unknown> = async () => null,
): Promise<FailoverRun> {
  const user = await register(url);
  const live = await login(url, user.user.email);
  await eventually("the replicas are in sync", async () => (await send(url, LogoutDocument, {}, { token: user.accessToken })).data?.logout === true, 10_000);
  const liveTraffic = keepAsking(url, live.accessToken);
  const revokedTraffic = keepAsking(url, user.accessToken);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const killedAt = Date.now();
  await kill(user.user.id);
  try {
    await eventually("a request with the live token succeeds again", async () => liveTraffic.seen.some((o) => o.at > killedAt + 1000 && o.status === 200), recoversWithinMs).catch(async (error: Error) => {
      const lastAnswers = liveTraffic.seen.slice(-3).map((o) => ({ afterKillMs: o.at - killedAt, status: o.status, reason: o.reason }));
      const topology = await describeTopology().catch((cause: Error) => `could not be read: ${cause.message}`);
      const readiness = await fetch(new URL("/readyz", url)).then(async (r) => `${r.status} ${await r.text()}`, (cause: Error) => cause.message);
      throw new Error(`${error.message}\nlast answers: ${JSON.stringify(lastAnswers)}\n/readyz: ${readiness}\ntopology: ${JSON.stringify(topology)}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    await Promise.all([liveTraffic.stop(), revokedTraffic.stop()]);
  }
  const revokedAfter = await send(url, MeDocument, {}, { token: user.accessToken });
  return { revoked: revokedTraffic.seen, live: liveTraffic.seen, revokedAfter, userId: user.user.id };
}

/** What a failover must never do, and what it must do: the assertions both topologies share. */
export function expectNoRevocationLost(run: FailoverRun, expect: jest.Expect): void {
  expect(run.revoked.filter((o) => o.status === 200)).toEqual([]);
  expect(new Set(run.revoked.map((o) => o.status))).toEqual(new Set([401, 503]));
  expect(run.live.filter((o) => ![200, 503].includes(o.status))).toEqual([]);
  expect(run.live.some((o) => o.status === 503)).toBe(true);
  expect(run.revokedAfter.error?.reason).toBe("TOKEN_REVOKED");
}
