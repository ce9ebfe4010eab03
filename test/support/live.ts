import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import type { GraphQLFormattedError } from "graphql";
import {
  AuditEventsLiveDocument,
  MeDocument,
  SessionEventsDocument,
  type AuditEventsLiveSubscription,
  type AuditEventsLiveSubscriptionVariables,
  type SessionEventsSubscription,
} from "../../schema/generated/graphql";

export type SessionEventData = SessionEventsSubscription["sessionEvents"];

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** One graphql-ws client connection, as an app holds it: acknowledged, subscribed to sessionEvents. */
export interface LiveClient {
  readonly client: Client;
  /** Resolves with the close frame (the client does not reconnect). */
  readonly closed: Promise<CloseInfo>;
  /** Whether a close frame arrived yet. */
  isClosed(): boolean;
  readonly events: SessionEventData[];
  /** Resolves once `count` events arrived. */
  eventsAtLeast(count: number, withinMs?: number): Promise<SessionEventData[]>;
  /** A `me` query over this socket: proves it is open and served. */
  me(): Promise<string>;
  dispose(): Promise<void>;
}

export const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, "ws");

/**
 * Connects with graphql-ws's own client over `ws`, authenticated in connection_init, and (unless
 * `subscribe` is false) subscribes to sessionEvents; resolves once the server acknowledged and a
 * query on the same socket was answered, so the subscription is in place.
 */
export async function openLive(httpUrl: string, token: string, { subscribe = true, headers }: { subscribe?: boolean; headers?: Record<string, string> } = {}): Promise<LiveClient> {
  let resolveClosed!: (info: CloseInfo) => void;
  const closed = new Promise<CloseInfo>((resolve) => (resolveClosed = resolve));
  let isClosed = false;
  const events: SessionEventData[] = [];
  const waiters = new Set<() => void>();
  const client = createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: headers ? class extends WebSocket {
      constructor(address: string, protocols: string | string[]) {
        super(address, protocols, { headers });
      }
    } : WebSocket,
    lazy: false,
    retryAttempts: 0,
    shouldRetry: () => false,
    onNonLazyError: () => undefined,
    connectionParams: { authorization: `Bearer ${token}` },
    on: {
      closed: (event) => {
        const { code, reason } = event as CloseInfo;
        isClosed = true;
        resolveClosed({ code, reason: String(reason) });
      },
    },
  });
  const me = () =>
    new Promise<string>((resolve, reject) => {
      let id = "";
      client.subscribe<{ me: { id: string } }>({ query: print(MeDocument) }, {
        next: (result) => (result.data ? (id = result.data.me.id) : reject(new Error(JSON.stringify(result.errors)))),
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => resolve(id),
      });
    });
  const live: LiveClient = {
    client,
    closed,
    isClosed: () => isClosed,
    events,
    async eventsAtLeast(count, withinMs = 5000) {
      const deadline = Date.now() + withinMs;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} events within ${withinMs} ms, got ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          waiters.add(resolve);
          setTimeout(resolve, 50);
        });
      }
      return events;
    },
    me,
    async dispose() {
      await client.dispose();
    },
  };
  if (subscribe) {
    client.subscribe<SessionEventsSubscription>({ query: print(SessionEventsDocument) }, {
      next: (result) => {
        if (result.data) events.push(result.data.sessionEvents);
        for (const wake of waiters) wake();
        waiters.clear();
      },
      error: () => undefined,
      complete: () => undefined,
    });
  }
  await Promise.race([me(), closed.then((info) => Promise.reject(new Error(`closed ${info.code} ${info.reason}`)))]);
  return live;
}

/** Resolves with the close frame, or rejects when none came within `withinMs`. */
export async function closedWithin(live: LiveClient, withinMs: number): Promise<CloseInfo> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      live.closed,
      new Promise<CloseInfo>((_, reject) => (timer = setTimeout(() => reject(new Error(`socket still open after ${withinMs} ms`)), withinMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens a socket whose connection_init is refused, and resolves with its close frame. */
export async function refusedWith(httpUrl: string, connectionParams: Record<string, unknown>): Promise<CloseInfo> {
  const ws = new WebSocket(wsUrl(httpUrl), "graphql-transport-ws");
  const frames: string[] = [];
  ws.on("message", (data) => frames.push(String(data)));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.send(JSON.stringify({ type: "connection_init", payload: connectionParams }));
  const [code, reason] = await new Promise<[number, Buffer]>((resolve) => ws.once("close", (c, r) => resolve([c, r])));
  if (frames.some((frame) => frame.includes("connection_ack"))) throw new Error("the server acknowledged a refused connection");
  return { code, reason: String(reason) };
}

/** Sends connection_init with exactly these params; true when the server acknowledged it. */
export async function acknowledged(httpUrl: string, connectionParams: Record<string, unknown>): Promise<boolean> {
  const ws = new WebSocket(wsUrl(httpUrl), "graphql-transport-ws");
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.send(JSON.stringify({ type: "connection_init", payload: connectionParams }));
  const first = await new Promise<string | null>((resolve) => {
    ws.once("message", (data) => resolve(String(data)));
    ws.once("close", () => resolve(null));
  });
  ws.close();
  return first !== null && (JSON.parse(first) as { type: string }).type === "connection_ack";
}

export type AuditEventData = AuditEventsLiveSubscription["auditEvents"];

/** One live `auditEvents` subscription on a socket: what it received, how it ended. */
export interface AuditSubscription {
  readonly events: AuditEventData[];
  /** Errors of a `next` message (a refused subscribe, SUBSCRIBER_TOO_SLOW) or of an `error` message. */
  readonly errors: GraphQLFormattedError[];
  /** Resolves when the server completed it (or its socket closed). */
  readonly ended: Promise<void>;
  /** Resolves once `count` events arrived. */
  eventsAtLeast(count: number, withinMs?: number): Promise<AuditEventData[]>;
}

/** Subscribes to auditEvents on an open socket (openLive), with the generated document. */
export function subscribeAuditEvents(live: LiveClient, filter: AuditEventsLiveSubscriptionVariables["filter"] = null): AuditSubscription {
  const events: AuditEventData[] = [];
  const errors: GraphQLFormattedError[] = [];
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  void live.closed.then(() => end());
  live.client.subscribe<AuditEventsLiveSubscription>({ query: print(AuditEventsLiveDocument), variables: { filter } }, {
    next: (result) => {
      if (result.data) events.push(result.data.auditEvents);
      if (result.errors) errors.push(...(result.errors as GraphQLFormattedError[]));
    },
    error: (error) => {
      if (Array.isArray(error)) errors.push(...(error as GraphQLFormattedError[]));
      end();
    },
    complete: () => end(),
  });
  return {
    events,
    errors,
    ended,
    async eventsAtLeast(count, withinMs = 5000) {
      const deadline = Date.now() + withinMs;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} audit events within ${withinMs} ms, got ${JSON.stringify({ events, errors })}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return events;
    },
  };
}

/** Waits until `api` counts exactly `count` live auditEvents subscriptions (each in place: its tail is open). */
export async function auditSubscriptions(httpUrl: string, count: number, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  let seen = -1;
  while (Date.now() <= deadline) {
    const text = await (await fetch(httpUrl.replace(/\/graphql$/, "/metrics"))).text();
    seen = Number(/^auth_live_audit_subscriptions (\d+)/m.exec(text)?.[1] ?? -1);
    if (seen === count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`expected ${count} audit subscriptions at ${httpUrl}, saw ${seen}`);
}
