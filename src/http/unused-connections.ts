import type { Server } from "node:http";
import type { Socket } from "node:net";

/**
 * Connections that have not sent a request yet. Node's drain closes idle keep-alive connections,
 * but not these: a browser's preconnected socket (Chromium opens one to an origin it used) or a
 * client that connected and said nothing held every stop for the whole drain bound. A stop
 * closes them at its start; nothing was asked on them, so nothing is lost, and a client retries
 * on a new connection as it does after any keep-alive close.
 */
export function unusedConnections(server: Server, options: { readonly upgrades: boolean }): { close(): void } {
  const unused = new Set<Socket>();
  const used = (socket: Socket) => unused.delete(socket);
  server.on("connection", (socket: Socket) => {
    unused.add(socket);
    socket.once("close", () => used(socket));
  });
  server.on("request", (request: { socket: Socket }) => used(request.socket));
  // A WebSocket's handshake: the live channel closes its sockets itself, with a close code. Only
  // when it is on: with no "upgrade" listener at all, Node refuses upgrades, and must go on doing so.
  if (options.upgrades) server.on("upgrade", (request: { socket: Socket }) => used(request.socket));
  return {
    close() {
      for (const socket of unused) socket.destroy();
      unused.clear();
    },
  };
}
