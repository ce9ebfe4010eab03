import { leaseLock, localLock, type TabLock } from "../src/tab-lock.js";
import type { ChannelFactory } from "../src/environment.js";

// Node's BroadcastChannel reaches other instances of the same name in this process, as tabs would.
const Channel = BroadcastChannel as unknown as ChannelFactory;

/** Runs `perTab` tasks in each lock at once; answers the most tasks that were ever inside together. */
async function overlap(locks: TabLock[], perTab: number) {
  let inside = 0;
  let most = 0;
  const waited: boolean[] = [];
  await Promise.all(
    locks.flatMap((lock) =>
      Array.from({ length: perTab }, () =>
        lock.run(async (didWait) => {
          waited.push(didWait);
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    ),
  );
  return { most, waited };
}

describe("the cross-tab lock without Web Locks", () => {
  it("lets one task at a time run across three tabs sharing a BroadcastChannel lease", async () => {
    const tabs = [1, 2, 3].map(() => leaseLock(Channel, `lease-${process.pid}`, { settleMs: 20, leaseMs: 2_000 }));
    try {
      const { most, waited } = await overlap(tabs, 3);
      expect(most).toBe(1);
      expect(waited.filter((w) => !w).length).toBeGreaterThanOrEqual(1);
      expect(waited.filter((w) => w).length).toBeGreaterThanOrEqual(7);
    } finally {
      tabs.forEach((tab) => tab.close());
    }
  });

  it("frees the lease of a tab that died holding it once the lease runs out", async () => {
    const name = `lease-dead-${process.pid}`;
    const lock = leaseLock(Channel, name, { settleMs: 20, leaseMs: 2_000 });
    const dead = new Channel(`${name}:lease`);
    dead.postMessage({ t: "held", id: "dead-tab", until: Date.now() + 300 });
    try {
      await new Promise((r) => setTimeout(r, 20));
      const started = Date.now();
      expect(await lock.run(async (waited) => waited)).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    } finally {
      lock.close();
      dead.close();
    }
  });

  it("queues the calls of one tab when there is no channel at all", async () => {
    expect((await overlap([localLock()], 5)).most).toBe(1);
  });
});
