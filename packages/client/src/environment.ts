import type { IdbFactoryLike } from "./dpop.js";

/**
 * The browser APIs the client uses, as narrow structural types, so that tests (and Node) can pass
 * their own: nothing here needs the DOM type library.
 */

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; credentials?: "include" | "omit" | "same-origin" },
) => Promise<ResponseLike>;

export interface ResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  json(): Promise<unknown>;
  clone?(): ResponseLike;
}

export interface LockManagerLike {
  request<T>(name: string, options: { ifAvailable?: boolean; signal?: AbortSignal }, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

export interface ChannelLike {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

export type ChannelFactory = new (name: string) => ChannelLike;

/** Node's BroadcastChannel would keep the process alive; a browser's has no unref. */
export function openChannel(Channel: ChannelFactory, name: string): ChannelLike {
  const channel = new Channel(name);
  (channel as { unref?: () => void }).unref?.();
  return channel;
}

export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type SocketFactory = new (url: string, protocol: string) => SocketLike;

export type { IdbFactoryLike } from "./dpop.js";

/** What the environment offers, looked up once; `null` where it lacks the API. */
export function globals() {
  const g = globalThis as Record<string, unknown> & { navigator?: { locks?: LockManagerLike } };
  return {
    fetch: typeof g.fetch === "function" ? (g.fetch as (...args: unknown[]) => Promise<ResponseLike>).bind(g) as FetchLike : null,
    locks: g.navigator?.locks ?? null,
    BroadcastChannel: (g.BroadcastChannel as ChannelFactory | undefined) ?? null,
    WebSocket: (g.WebSocket as SocketFactory | undefined) ?? null,
    indexedDB: (g.indexedDB as IdbFactoryLike | undefined) ?? null,
    /** WebCrypto, which DPoP proofs need: browsers offer it only in secure contexts (https, localhost). */
    webCrypto: typeof (g.crypto as { subtle?: unknown } | undefined)?.subtle === "object",
    /** Browsers have a document; only there does the HttpOnly cookie hold the refresh token by default. */
    isBrowser: typeof g.document === "object" && g.document !== null,
  };
}
