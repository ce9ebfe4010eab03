import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import proxyAddr from "@fastify/proxy-addr";
import type { DpopTarget } from "@revocable-auth/verifier/internal";
import type { FastifyPluginAsync } from "fastify";
import { CloseCode, handleProtocols, type makeServer } from "graphql-ws";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import { clientKey } from "../auth/shared/client-key";
import type { LiveConnections } from "../live/connections";
import type { SocketExtra } from "./live-protocol";
import { OriginPolicy } from "./origins";

export interface LiveRouteOptions {
  readonly protocol: ReturnType<typeof makeServer<Record<string, unknown>, SocketExtra>>;
  readonly connections: LiveConnections;
  /**
   * LIVE_ALLOWED_ORIGINS (by default CORS_ORIGINS): a browser's Origin must be one of these or the
   * API's own; null allows any.
   */
  readonly allowedOrigins: readonly string[] | null;
  /** PUBLIC_URL's origin, also the API's own (origins.ts). */
  readonly publicOrigin?: string | null;
  /** A larger message closes the socket with 1009. */
  readonly maxMessageBytes: number;
  /** A peer that has not answered the last ping by the next one is dropped. */
  readonly pingMs: number;
  /**
   * LIVE_MAX_PENDING_PER_IP: sockets of one client (an IPv6 /64) not yet authenticated. Each holds
   * memory for up to the 3 s connection_init wait, so one client opening thousands a second would
   * hold thousands at once; past this, its upgrades get 429. Authenticated ones are bounded per user.
   */
  readonly maxPendingPerClient: number;
  readonly logger: Logger;
  /** TRUST_PROXY in fastify's form (app.ts): the client's address is found as for an HTTP request's `request.ip`. */
  readonly trustProxy?: false | string[] | ((address: string, hop: number) => boolean);
}

/** Shutdown sends every socket 1001, then drops those that have not closed after this. */
const CLOSE_GRACE_MS = 500;

/**
 * WebSocket on the HTTP port and path: an upgrade of GET /graphql with the graphql-transport-ws
 * subprotocol goes to the protocol (src/http/live-protocol.ts); everything else about a socket (origin,
 * message size, keep-alive, shutdown) is decided here.
 */
export const liveRoute: FastifyPluginAsync<LiveRouteOptions> = async (app, options) => {
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, handleProtocols, clientTracking: true });
  const alive = new WeakSet<WebSocket>();
  /** Not yet authenticated sockets, by client (clientKey). */
  const pending = new Map<string, number>();
  const trust = !options.trustProxy ? null : typeof options.trustProxy === "function" ? options.trustProxy : proxyAddr.compile(options.trustProxy);
  const origins = options.allowedOrigins === null ? null : new OriginPolicy(options.allowedOrigins, options.publicOrigin ?? null);
  const addressOf = (request: IncomingMessage) => clientIpOf(trust ? proxyAddr(request, trust) : request.socket.remoteAddress);

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? "").split("?")[0];
    if (path !== "/graphql") return refuseUpgrade(socket, 404, "Not Found");
    if (origins?.verdict(request.headers.origin, request.headers.host) === "foreign") return refuseUpgrade(socket, 403, "Forbidden");
    const clientIp = addressOf(request);
    if ((pending.get(clientKey(clientIp)) ?? 0) >= options.maxPendingPerClient) return refuseUpgrade(socket, 429, "Too Many Requests");
    const dpopTarget: DpopTarget = { method: "GET", url: socketUrl(request, options.publicOrigin ?? null, trust !== null && trust(request.socket.remoteAddress ?? "", 0)) };
    wss.handleUpgrade(request, socket, head, (ws) => opened(ws, clientIp, dpopTarget));
  };

  const opened = (ws: WebSocket, clientIp: string, dpopTarget: DpopTarget) => {
    const client = clientKey(clientIp);
    pending.set(client, (pending.get(client) ?? 0) + 1);
    let counted = true;
    const authenticated = () => {
      if (!counted) return;
      counted = false;
      const left = pending.get(client)! - 1;
      if (left === 0) pending.delete(client);
      else pending.set(client, left);
    };
    alive.add(ws);
    ws.on("pong", () => alive.add(ws));
    const socket: SocketExtra["socket"] = {
      get closed() {
        return ws.readyState !== ws.OPEN;
      },
      close: (code, reason) => {
        if (ws.readyState === ws.OPEN) ws.close(code, reason);
      },
    };
    const extra: SocketExtra = { socket, clientIp, authenticated, dpopTarget };
    const closed = options.protocol.opened(
      {
        protocol: ws.protocol,
        send: (data) =>
          new Promise((resolve, reject) => {
            if (ws.readyState !== ws.OPEN) return resolve();
            ws.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code ?? 1000, reason ?? ""),
        onMessage: (handle) =>
          ws.on("message", (data) => {
            handle(String(data)).catch((error: unknown) => {
              options.logger.error({ err: error }, "unexpected error on a live connection");
              socket.close(CloseCode.InternalServerError, "Internal server error");
            });
          }),
      },
      extra,
    );
    ws.once("error", () => ws.terminate());
    ws.once("close", (code, reason) => {
      authenticated();
      void closed(code, String(reason));
    });
  };

  // One timer for every socket, not one each: 10,000 idle sockets cost one sweep per period.
  const ping = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, options.pingMs);
  ping.unref();

  app.server.on("upgrade", onUpgrade);
  app.addHook("preClose", (done) => {
    clearInterval(ping);
    app.server.off("upgrade", onUpgrade);
    options.connections.closeAll();
    for (const ws of wss.clients) ws.close(1001, "SERVER_SHUTTING_DOWN");
    // The drain waits on HTTP requests, never on a socket.
    setTimeout(() => {
      for (const ws of wss.clients) ws.terminate();
    }, CLOSE_GRACE_MS).unref();
    done();
  });
  app.addHook("onClose", (_app, done) => {
    for (const ws of wss.clients) ws.terminate();
    wss.close(() => done());
  });
};

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * The socket's URL as the client opened it, for a DPoP proof's htu: PUBLIC_URL's host, wss for an
 * https one, when it is set (as for HTTP, graphql.ts); otherwise ws, or wss behind TLS, with the
 * scheme and host a TRUST_PROXY peer forwards (X-Forwarded-Proto, X-Forwarded-Host), as for an
 * HTTP request's `request.protocol` and `request.host`.
 */
function socketUrl(request: IncomingMessage, publicOrigin: string | null, fromTrustedProxy: boolean): string {
  if (publicOrigin !== null) return `${publicOrigin.replace(/^http/, "ws")}${request.url ?? "/"}`;
  const forwarded = (name: string) => {
    const value = fromTrustedProxy ? request.headers[name] : undefined;
    return typeof value === "string" ? value.split(",")[0]!.trim() : undefined;
  };
  const encrypted = (request.socket as { encrypted?: boolean }).encrypted === true;
  const secure = (forwarded("x-forwarded-proto") ?? (encrypted ? "https" : "http")) === "https";
  return `${secure ? "wss" : "ws"}://${forwarded("x-forwarded-host") ?? request.headers.host ?? ""}${request.url ?? "/"}`;
}

function clientIpOf(address: string | undefined): string {
  if (!address) return "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
