import { SECOND_FACTOR_REASONS } from "./api.js";
import type { LockManagerLike, SocketFactory, SocketLike } from "./environment.js";

/** One event of `subscription { sessionEvents }`: something happened to another session of this user. */
export interface SessionEvent {
  /** `SIGNED_IN`, `SESSION_ENDED`, `PASSWORD_CHANGED`, `ROLES_CHANGED`, `IDENTITY_LINKED`, `IDENTITY_UNLINKED` (and any the API adds later). */
  readonly type: string;
  readonly sessionId: string | null;
  readonly device: string | null;
  readonly at: string;
  readonly reason: string | null;
  /** `IDENTITY_LINKED`, `IDENTITY_UNLINKED`: the sign-in provider; `SIGNED_IN`: the one the session signed in with, if any. */
  readonly provider: string | null;
}

export const SESSION_EVENTS = "subscription SessionEvents { sessionEvents { type sessionId device at reason provider } }";
const PROTOCOL = "graphql-transport-ws";
/** Close codes of the API's WebSocket endpoint (docs/live.md). */
export const CLOSE_SIGNED_OUT = 4401;
export const CLOSE_FORBIDDEN = 4403;
/** Policy (too many sockets for this user, a bad Origin): retrying would not help. */
const CLOSE_POLICY = 1008;
const MAX_BACKOFF_MS = 30_000;

export interface LiveOptions {
  readonly url: string;
  readonly WebSocket: SocketFactory;
  /**
   * connection_init's payload for a fresh access token (`authorization`, and `dpop`, a proof for
   * GET on `url`, when the token is bound), or null once signed out (then the socket stays closed).
   */
  connectionParams(url: string): Promise<{ readonly token: string; readonly params: Record<string, string> } | null>;
  /** The server refused this token (4403): the next `token()` must not be the same one. */
  tokenRefused(token: string, reason: string): void;
  event(event: SessionEvent): void;
  /** The server closed with 4401: this session is over (the reason is the close reason). */
  signedOut(reason: string): void;
  /**
   * The server closed with 4403 MFA_REQUIRED or MFA_ENROLLMENT_REQUIRED for `token`. Answers true
   * when that token is still the session's (no reconnecting until that changes); false when the
   * session has moved on (verifyMfa), and the socket reconnects with the new token.
   */
  secondFactor(reason: string, token: string): boolean;
}

export interface Live {
  stop(): void;
}

/**
 * The one subscription this client keeps open: a minimal graphql-transport-ws client (init with
 * the bearer token, subscribe, answer pings). After 4403 it gets a fresh token and reconnects;
 * 4401 is final, and so is 1008 (policy) for the socket. Any other close reconnects with a growing
 * delay.
 */
export function openLive(options: LiveOptions): Live {
  let socket: SocketLike | null = null;
  let stopped = false;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const send = (message: object) => socket?.send(JSON.stringify(message));

  function reconnect(delay: number) {
    failures++;
    timer = setTimeout(() => void connect(), delay);
  }

  async function connect() {
    timer = null;
    // null: signed out, the socket stays closed. A failure (the DPoP key did not load, the refresh
    // could not reach the API) passes: try again later, or the socket would be gone for good.
    const init = await options.connectionParams(options.url).catch(() => undefined);
    if (stopped || init === null) return;
    if (init === undefined) return reconnect(backoff());
    const { token, params } = init;
    const ws = new options.WebSocket(options.url, PROTOCOL);
    socket = ws;
    ws.onopen = () => send({ type: "connection_init", payload: params });
    ws.onmessage = ({ data }) => {
      let message: { type?: string; payload?: { data?: { sessionEvents?: SessionEvent } } };
      try {
        message = JSON.parse(String(data));
      } catch {
        return;
      }
      if (message.type === "connection_ack") {
        failures = 0;
        send({ id: "session-events", type: "subscribe", payload: { query: SESSION_EVENTS } });
      } else if (message.type === "ping") send({ type: "pong" });
      else if (message.type === "next" && message.payload?.data?.sessionEvents) options.event(message.payload.data.sessionEvents);
    };
    ws.onerror = () => {};
    ws.onclose = ({ code, reason }) => {
      if (socket !== ws) return;
      socket = null;
      if (stopped) return;
      if (code === CLOSE_SIGNED_OUT) {
        stopped = true;
        options.signedOut(reason || "TOKEN_REVOKED");
        return;
      }
      if (code === CLOSE_POLICY) return void (stopped = true);
      if (code === CLOSE_FORBIDDEN && SECOND_FACTOR_REASONS.has(reason) && options.secondFactor(reason, token)) {
        stopped = true;
        return;
      }
      if (code === CLOSE_FORBIDDEN) options.tokenRefused(token, reason || "TOKEN_EXPIRED");
      reconnect(code === CLOSE_FORBIDDEN && failures === 0 ? 0 : backoff());
    };
  }

  const backoff = () => Math.min(MAX_BACKOFF_MS, 500 * 2 ** failures);

  void connect();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const ws = socket;
      socket = null;
      ws?.close(1000, "signed out");
    },
  };
}

/**
 * One socket per browser, not per tab: the tab that holds the Web Lock `name` keeps the socket and
 * relays its events to the others; when that tab closes, the browser hands the lock, and so the
 * socket, to the next signed-in tab. The API's per-user socket cap is then spent on devices, not
 * tabs. Without Web Locks every tab keeps its own socket.
 */
export function openLiveOnce(locks: LockManagerLike | null, name: string, options: LiveOptions): Live {
  if (!locks) return openLive(options);
  const abort = new AbortController();
  let live: Live | null = null;
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  locks
    .request(name, { signal: abort.signal }, async () => {
      live = openLive(options);
      await held;
    })
    .catch(() => {}); // aborted while waiting: this tab signed out before its turn
  return {
    stop() {
      abort.abort();
      live?.stop();
      release();
    },
  };
}
