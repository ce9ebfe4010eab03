import { MeDocument } from "../../schema/generated/graphql";
import { send } from "./client";

export interface Observation {
  readonly at: number;
  readonly status: number;
  readonly reason: unknown;
}

/** Sends `me` with `token` back to back until stopped, recording every answer. */
export function keepAsking(url: string, token: string): { readonly seen: Observation[]; stop(): Promise<void> } {
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

/** Waits until `check` holds, for at most `withinMs`; returns how long it took. */
export async function until(what: string, check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - started > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - started;
}
