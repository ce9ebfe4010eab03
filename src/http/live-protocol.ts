import { randomUUID } from "node:crypto";
import {
  getOperationAST,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from "graphql";
import { needsSecondFactor, type DpopTarget } from "@revocable-auth/verifier/internal";
import { CloseCode, makeServer, type Context as ProtocolContext, type ServerOptions, type SubscribePayload } from "graphql-ws";
import type { DpopProofs } from "../auth/dpop/proofs";
import type { Authenticator, Identity, PresentedToken } from "../auth/tokens/authenticator";
import type { Clock } from "../clock";
import { presentedToken } from "../context/bearer";
import type { RefreshCookie, RequestContext } from "../context/context";
import { authenticationRequired, isAuthError, mfaRequired, type AuthError } from "../errors";
import { withoutSuggestions } from "../graphql/limits";
import type { AuditFeed } from "../live/audit-feed";
import { CLOSE, LiveConnection, type LiveConnections, type LiveSocket } from "../live/connections";

/** What the transport knows of one socket. */
export interface SocketExtra {
  readonly socket: LiveSocket & { readonly closed: boolean };
  readonly clientIp: string;
  connection?: LiveConnection;
  /** Called once the socket is authenticated: it no longer counts against its client's pending sockets. */
  readonly authenticated?: () => void;
  /** connection_init's access token, kept in memory only: each operation is checked with it, as an HTTP request is. */
  token?: PresentedToken;
  /** The request a connection_init's DPoP proof must be for: GET and the socket's ws(s) URL. */
  readonly dpopTarget?: DpopTarget;
  /**
   * Ids of the operations in flight, from `subscribe` to their end. graphql-ws forgets an id at the
   * client's `complete`, even while the operation is still being checked; this does not.
   */
  operations?: Set<string>;
}

export interface LiveProtocolOptions {
  readonly schema: GraphQLSchema;
  readonly authenticator: Authenticator;
  /** DPoP: connection_init's `dpop` proof is read only when it is on. */
  readonly dpop?: DpopProofs;
  readonly connections: LiveConnections;
  /** The source of every connection's auditEvents subscriptions. */
  readonly auditFeed: AuditFeed;
  readonly clock: Clock;
  /** MAX_TOKENS, as over HTTP. */
  readonly maxTokens: number;
  /** graphql-armor's rules and ours, as over HTTP. */
  readonly validationRules: readonly ValidationRule[];
  /** The same shaping as HTTP responses: codes and reasons kept, internals hidden. */
  readonly formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Subscriptions (and operations) running at once on one socket. */
  readonly maxSubscriptions: number;
  /** Introspection is off: "Did you mean …?" is cut from every message, as Apollo's plugin does over HTTP. */
  readonly hideSuggestions: boolean;
}

/** No cookies on a socket: a refresh over WebSocket takes its token as an argument. */
const noCookie: RefreshCookie = { read: () => undefined, set: () => undefined, clear: () => undefined };

type Ctx = ProtocolContext<Record<string, unknown>, SocketExtra>;

/**
 * The graphql-transport-ws protocol (graphql-ws's `makeServer`), bound to our authentication,
 * limits and connection registry; the transport (src/http/live.ts) feeds it sockets.
 * connection_init carries `{ authorization: "Bearer <token>" }` (or a DPoP-bound token with its
 * proof, tokenOf), verified exactly as an HTTP request.
 */
export function liveProtocol(options: LiveProtocolOptions) {
  const rules = [...specifiedRules, ...options.validationRules];
  const format = (errors: readonly GraphQLError[]) =>
    errors.map((error) => {
      const formatted = options.formatError(error.toJSON(), error);
      return options.hideSuggestions ? { ...formatted, message: withoutSuggestions(formatted.message) } : formatted;
    });
  /** The checks of one operation, as over HTTP; its execution arguments, or the errors that refuse it. */
  const prepare = async (ctx: Ctx, payload: SubscribePayload): Promise<ExecutionArgs | GraphQLError[]> => {
    let document: DocumentNode;
    try {
      document = parse(payload.query, { maxTokens: options.maxTokens });
    } catch (error) {
      return withCode([error instanceof GraphQLError ? error : new GraphQLError(String(error))], "GRAPHQL_PARSE_FAILED");
    }
    const errors = validate(options.schema, document, rules);
    if (errors.length > 0) return withCode(errors, "GRAPHQL_VALIDATION_FAILED");
    // Refused here rather than by graphql-ws after this returns, which would skip onComplete.
    if (!getOperationAST(document, payload.operationName)) return [new GraphQLError("Unable to identify operation")];
    // Every operation is checked as an HTTP request is (one store round trip, the roles of now):
    // the socket's own close on a revocation may come later (a lost message, the re-check's period).
    let identity: Identity;
    try {
      // A bound socket proved its key at connection_init: its operations carry no proofs of their own.
      identity = await options.authenticator.authenticate(ctx.extra.token!, true);
    } catch (error) {
      if (!isAuthError(error)) throw error;
      if (error.code !== "SERVICE_UNAVAILABLE") {
        const [code, reason] = refusal(error);
        // After the operation's error went out (graphql-ws sends it when this returns).
        const connection = ctx.extra.connection!;
        setImmediate(() => options.connections.end(connection, code, reason));
      }
      return [new GraphQLError(error.message, { originalError: error, extensions: { code: error.code, reason: error.reason } })];
    }
    return {
      schema: options.schema,
      document,
      operationName: payload.operationName,
      variableValues: payload.variables,
      contextValue: contextOf(ctx, identity),
    };
  };
  const serverOptions: ServerOptions<Record<string, unknown>, SocketExtra> = {
    schema: options.schema,
    connectionInitWaitTimeout: 3_000,
    onConnect: async (ctx) => {
      const { extra } = ctx;
      try {
        const token = tokenOf(ctx.connectionParams, options.dpop?.enabled === true, extra.dpopTarget);
        const identity = await options.authenticator.authenticate(token);
        // A session still waiting for its second factor holds no socket (4403 MFA_REQUIRED), so it
        // never counts toward LIVE_MAX_CONNECTIONS_PER_USER nor closes a verified session's socket.
        if (needsSecondFactor(identity.user, identity.aal)) throw mfaRequired();
        if (extra.socket.closed) return false;
        extra.token = token;
        extra.connection = new LiveConnection(identity, extra.socket, options.clock.now(), { auditFeed: options.auditFeed, maxSubscriptions: options.maxSubscriptions });
        options.connections.add(extra.connection);
        extra.authenticated?.();
        return true;
      } catch (error) {
        if (!isAuthError(error)) throw error;
        const [code, reason] = refusal(error);
        extra.socket.close(code, reason);
        return false;
      }
    },
    onClose: (ctx) => {
      if (ctx.extra.connection) options.connections.remove(ctx.extra.connection);
    },
    onSubscribe: async (ctx, id, payload) => {
      const operations = (ctx.extra.operations ??= new Set());
      if (operations.has(id)) {
        // A `complete` while this id's operation was still being checked, then `subscribe` again:
        // graphql-ws would run both under one id, and only the last could ever be completed.
        // Its own answer to a duplicate id, whatever the timing.
        ctx.extra.socket.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
        return [new GraphQLError(`Subscriber for ${id} already exists`)];
      }
      if (operations.size >= options.maxSubscriptions) {
        return [new GraphQLError(`At most ${options.maxSubscriptions} operations may run at once on one connection (LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION)`)];
      }
      operations.add(id);
      try {
        const prepared = await prepare(ctx, payload);
        if (Array.isArray(prepared)) operations.delete(id);
        return prepared;
      } catch (error) {
        operations.delete(id);
        throw error;
      }
    },
    // Every operation that got past onSubscribe ends here, however it ended (graphql-ws calls it
    // also when the client completed it first, or the socket closed).
    onComplete: (ctx, id) => {
      ctx.extra.operations?.delete(id);
    },
    onNext: (_ctx, _id, _payload, _args, result: ExecutionResult) =>
      result.errors ? { ...result, errors: format(result.errors) } : undefined,
    onError: (_ctx, _id, _payload, errors) => format(errors) as unknown as readonly GraphQLError[],
  };
  return makeServer(serverOptions);
}

function contextOf(ctx: Ctx, identity: Identity): RequestContext {
  const connection = ctx.extra.connection!;
  return {
    identity,
    requestId: randomUUID(),
    refreshCookie: noCookie,
    clientIp: ctx.extra.clientIp,
    live: connection,
  };
}

/** The code Apollo gives parse and validation errors over HTTP, so a client tells them apart the same way. */
function withCode(errors: readonly GraphQLError[], code: string): GraphQLError[] {
  return errors.map(
    (error) =>
      new GraphQLError(error.message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        path: error.path,
        originalError: error.originalError,
        extensions: { ...error.extensions, code },
      }),
  );
}

/**
 * The token in connection_init's payload, `{ authorization: "Bearer <token>" }`, or for a bound one
 * `{ authorization: "DPoP <token>", dpop: "<proof>" }` (the proof's htm is GET, its htu the socket's
 * URL); the keys are matched case-insensitively.
 */
function tokenOf(params: Readonly<Record<string, unknown>> | undefined, dpop: boolean, target: DpopTarget | undefined): PresentedToken {
  const value = param(params, "authorization");
  if (typeof value !== "string") throw authenticationRequired();
  const proof = dpop ? param(params, "dpop") : undefined;
  return presentedToken(value, typeof proof === "string" ? proof : undefined, () => target ?? { method: "", url: "" });
}

function param(params: Readonly<Record<string, unknown>> | undefined, name: string): unknown {
  const key = Object.keys(params ?? {}).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? undefined : params![key];
}

/**
 * A refused connection_init: revoked for good (4401), authenticate again (4403: a bad or expired
 * token, or MFA_REQUIRED for an aal1 token of a user with a second factor), or the store is down (1013).
 */
function refusal(error: AuthError): [number, string] {
  if (error.code === "SERVICE_UNAVAILABLE") return [CLOSE.TRY_AGAIN_LATER, error.reason];
  if (error.reason === "TOKEN_REVOKED" || error.reason === "ACCOUNT_DISABLED") return [CLOSE.REVOKED, error.reason];
  return [CLOSE.REAUTHENTICATE, error.reason];
}
