import { LiveGuard, type Verifier } from "@revocable-auth/verifier";
import type { GraphQLSchema } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { Redis } from "ioredis";
import { WebSocketServer } from "ws";
import type { NotesContext } from "./context";
import type { Notes } from "./notes";

export interface LiveOptions {
  /** Apollo's standalone server keeps its HTTP server to itself, so subscriptions listen on a port of their own. */
  readonly port: number;
  /** The socket's URL as clients open it: the `htu` of a bound token's connection_init proof. */
  readonly url: string;
  readonly schema: GraphQLSchema;
  readonly verifier: Verifier;
  readonly notes: Notes;
  readonly redisUrl: string;
  /** The auth API's Redis connection this service reads with. */
  readonly redis: Redis;
  readonly failureMode: "closed" | "open";
}

/**
 * Subscriptions over WebSocket (on WS_PORT), guarded like the auth API's own: connection_init
 * carries `{ authorization: "Bearer <token>" }`, or `{ authorization: "DPoP <token>", dpop: "<proof>" }`
 * with a proof for GET on this socket's URL, verified as a request is; the verifier's LiveGuard
 * closes the socket (4401) when the auth API publishes a revocation of its session.
 */
export async function serveLive({ port, url, schema, verifier, notes, redisUrl, redis, failureMode }: LiveOptions) {
  const subscriber = new Redis(redisUrl, { connectionName: "notes-service-live", maxRetriesPerRequest: 0 });
  subscriber.on("error", () => undefined);
  const guard = new LiveGuard({ subscriber, redis, failureMode });
  await guard.start();
  const wss = new WebSocketServer({ port, maxPayload: 64 * 1024 });
  await new Promise((resolve) => wss.once("listening", resolve));
  type Extra = { unwatch?: () => void; context?: NotesContext };
  const disposable = useServer<Record<string, unknown>, Extra>(
    {
      schema,
      onConnect: async (ctx) => {
        const param = (wanted: string) => {
          const key = Object.keys(ctx.connectionParams ?? {}).find((name) => name.toLowerCase() === wanted);
          const value = key === undefined ? undefined : ctx.connectionParams![key];
          return typeof value === "string" ? value : undefined;
        };
        const socket = (ctx.extra as unknown as { socket: { close(code: number, reason: string): void } }).socket;
        const proof = param("dpop");
        const outcome = await verifier.authenticate(param("authorization"), proof === undefined ? undefined : { proof, method: "GET", url });
        if (!outcome.ok || outcome.identity === null) {
          const reason = outcome.ok ? "AUTHENTICATION_REQUIRED" : outcome.reason;
          socket.close(reason === "TOKEN_REVOKED" ? 4401 : reason === "STORE_UNAVAILABLE" ? 1013 : 4403, reason);
          return false;
        }
        ctx.extra.unwatch = guard.watch(outcome.identity, (code, reason) => socket.close(code, reason));
        ctx.extra.context = { identity: outcome.identity, notes } as NotesContext;
        return true;
      },
      context: (ctx) => ctx.extra.context!,
      onClose: (ctx) => ctx.extra.unwatch?.(),
    },
    wss,
  );
  return {
    async stop() {
      guard.stop();
      await disposable.dispose();
      subscriber.disconnect();
    },
  };
}
