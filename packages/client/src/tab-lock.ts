import { openChannel, type ChannelFactory, type ChannelLike, type LockManagerLike } from "./environment.js";

/**
 * One task at a time across every tab of the origin. `waited` tells the task whether another tab
 * (or call) held the lock first, so it may already have done the work.
 */
export interface TabLock {
  run<T>(task: (waited: boolean) => Promise<T>): Promise<T>;
  close(): void;
}

/** The Web Locks API: the browser queues the tabs and frees the lock of a tab that closes. */
export function webLock(locks: LockManagerLike, name: string): TabLock {
  const NOT_GRANTED = Symbol("not granted");
  return {
    async run(task) {
      const immediate = await locks.request(name, { ifAvailable: true }, async (lock) => (lock ? task(false) : NOT_GRANTED));
      if (immediate !== NOT_GRANTED) return immediate as Awaited<ReturnType<typeof task>>;
      return locks.request(name, {}, () => task(true));
    },
    close() {},
  };
}

/** Within one tab only: a queue of promises. Used where there is no other tab to reach. */
export function localLock(): TabLock {
  let tail: Promise<unknown> = Promise.resolve();
  let busy = 0;
  return {
    run(task) {
      const waited = busy > 0;
      busy++;
      const result = tail.then(() => task(waited));
      tail = result.catch(() => undefined).finally(() => busy--);
      return result;
    },
    close() {},
  };
}

type LeaseMessage =
  | { readonly t: "claim"; readonly id: string; readonly at: number }
  | { readonly t: "held"; readonly id: string; readonly until: number }
  | { readonly t: "free"; readonly id: string };

export interface LeaseTiming {
  /** How long a claim listens for a competing one before it takes the lease. */
  readonly settleMs: number;
  /** How long a lease lasts unless renewed; a tab that dies holding it frees it after this. */
  readonly leaseMs: number;
}

const DEFAULT_TIMING: LeaseTiming = { settleMs: 40, leaseMs: 10_000 };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Where there are no Web Locks: a lease negotiated over a BroadcastChannel. A tab claims, listens
 * for `settleMs`, and takes the lease unless an earlier claim or a held lease was heard; the holder
 * renews it while it works and frees it when done. Messages between tabs arrive within a
 * millisecond or two, far inside the settle window; if two tabs ever did refresh at once, the API's
 * refresh grace window still gives both the same token.
 */
export function leaseLock(Channel: ChannelFactory, name: string, timing: LeaseTiming = DEFAULT_TIMING): TabLock {
  const id = Math.random().toString(36).slice(2) + Date.now().toString(36);
  const channel: ChannelLike = openChannel(Channel, `${name}:lease`);
  const others = new Map<string, number>(); // holder id -> lease end (Date.now())
  /** Claims heard from other tabs: id -> when it was made. Kept, not reset, so none goes unseen. */
  const claims = new Map<string, number>();
  let changed: (() => void) | null = null;
  channel.onmessage = ({ data }) => {
    const message = data as LeaseMessage;
    if (message.t === "held") others.set(message.id, message.until);
    else if (message.t === "free") others.delete(message.id);
    else if (message.t === "claim") claims.set(message.id, message.at);
    changed?.();
  };
  /**
   * Whether another claim goes first: made earlier (ties by id) and recent enough that its tab may
   * still be deciding. An older one was decided already: it backed off, or its "held" was heard.
   */
  const claimBefore = (at: number) => {
    for (const [other, when] of claims) {
      if (when < at - 2 * timing.settleMs) claims.delete(other);
      else if (when < at || (when === at && other < id)) return true;
    }
    return false;
  };
  const heldElsewhere = () => {
    const now = Date.now();
    for (const [holder, until] of others) if (until <= now) others.delete(holder);
    return others.size > 0;
  };
  const untilChangedOr = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      changed = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (changed = null));

  async function acquire(): Promise<boolean> {
    let waited = false;
    for (;;) {
      while (heldElsewhere()) {
        waited = true;
        await untilChangedOr(Math.min(...others.values()) - Date.now());
      }
      const at = Date.now();
      channel.postMessage({ t: "claim", id, at } satisfies LeaseMessage);
      await sleep(timing.settleMs);
      if (!heldElsewhere() && !claimBefore(at)) return waited;
      waited = true;
      await sleep(timing.settleMs * (1 + Math.random()));
    }
  }

  const local = localLock();
  return {
    run(task) {
      return local.run(async (queued) => {
        const waited = (await acquire()) || queued;
        const announce = () => channel.postMessage({ t: "held", id, until: Date.now() + timing.leaseMs } satisfies LeaseMessage);
        announce();
        const renew = setInterval(announce, timing.leaseMs / 2);
        try {
          return await task(waited);
        } finally {
          clearInterval(renew);
          channel.postMessage({ t: "free", id } satisfies LeaseMessage);
        }
      });
    },
    close: () => channel.close(),
  };
}
