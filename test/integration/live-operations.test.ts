import { once } from "node:events";
import WebSocket from "ws";
import { startApi, type TestApi } from "../support/api";
import { post, register } from "../support/client";
import { closedWithin, openLive, wsUrl, type LiveClient } from "../support/live";

/**
 * Queries and mutations over the socket are checked as HTTP requests are, each one: the socket's
 * close on a revocation can come later (a lost message, LIVE_RECHECK_SECONDS), and must not leave a
 * window in which a revoked token, or roles taken away, still work over the socket.
 */
let server: TestApi;
const MAX_PENDING = 20;
const open: LiveClient[] = [];

beforeAll(async () => {
  // A re-check far away: only the per-operation check can catch what follows.
  server = await startApi(null, { LIVE_RECHECK_SECONDS: "300", EXPLORER: "off", LIVE_MAX_PENDING_PER_IP: String(MAX_PENDING) });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((live) => live.dispose()));
});
afterAll(async () => {
  await server?.stop();
});

async function live(token: string) {
  const client = await openLive(server.url, token);
  open.push(client);
  return client;
}

interface OperationErrors {
  readonly message: string;
  readonly extensions?: { code?: string; reason?: string };
}

/** One operation over the socket: its data, or its errors. */
function overSocket(client: LiveClient, query: string): Promise<{ data?: unknown; errors?: readonly OperationErrors[] }> {
  return new Promise((resolve) => {
    let result: { data?: unknown; errors?: readonly OperationErrors[] } = {};
    client.client.subscribe(
      { query },
      {
        next: (value) => (result = value as typeof result),
        error: (errors) => resolve({ errors: errors as OperationErrors[] }),
        complete: () => resolve(result),
      },
    );
  });
}

describe("an operation over the socket", () => {
  it("is refused with TOKEN_REVOKED, and the socket closed 4401, once the session ended without an event", async () => {
    const user = await register(server.url);
    const client = await live(user.accessToken);
    // Ended in the store only: no event is published, as if the message were lost.
    await server.store.endSession(user.user.id, user.sessionId!);
    const http = await post(server.url, { query: "{ me { id } }" }, { token: user.accessToken });
    expect(http.errors?.[0]?.extensions?.reason).toBe("TOKEN_REVOKED");

    const result = await overSocket(client, "{ me { id } }");
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
    expect(await closedWithin(client, 1000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  });

  it("runs with the roles the user has now, not those of connection_init", async () => {
    const user = await register(server.url);
    await server.store.setUserRoles(user.user.id, ["USER", "ADMIN"]);
    const client = await live(user.accessToken);
    const users = "{ users(first: 1) { totalCount } }";
    expect((await overSocket(client, users)).errors).toBeUndefined();

    // Taken away in the store only: the socket hears nothing until the re-check.
    await server.store.setUserRoles(user.user.id, ["USER"]);
    const result = await overSocket(client, users);
    expect(result.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("the client's address over the socket", () => {
  it("is found through TRUST_PROXY as over HTTP: throttling and the audit trail see the client, not the proxy", async () => {
    const proxied = await startApi(null, { TRUST_PROXY: "127.0.0.1" });
    try {
      const user = await register(proxied.url);
      const client = await openLive(proxied.url, user.accessToken, { subscribe: false, headers: { "x-forwarded-for": "203.0.113.9" } });
      open.push(client);
      const failed = await overSocket(client, `mutation { login(input: { email: "${user.user.email}", password: "not the password" }) { accessToken } }`);
      expect(failed.errors?.[0]?.extensions?.reason).toBe("INVALID_CREDENTIALS");
      const history = await post<{ securityEvents: { edges: { node: { type: string; ip: string | null } }[] } }>(
        proxied.url,
        { query: "{ securityEvents(first: 1) { edges { node { type ip } } } }" },
        { token: user.accessToken },
      );
      expect(history.data?.securityEvents.edges[0]?.node).toEqual({ type: "LOGIN_FAILED", ip: "203.0.113.9" });
    } finally {
      await proxied.stop();
    }
  });
});

describe("errors over the socket", () => {
  it("carry the codes of HTTP: GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED", async () => {
    const user = await register(server.url);
    const client = await live(user.accessToken);
    for (const [query, code] of [
      ["{ me { id ", "GRAPHQL_PARSE_FAILED"],
      ["{ __schema { types { name } } }", "GRAPHQL_VALIDATION_FAILED"],
      ['mutation { a: login(input: { email: "a@b.co", password: "x" }) { accessToken } b: login(input: { email: "a@b.co", password: "y" }) { accessToken } }', "GRAPHQL_VALIDATION_FAILED"],
    ]) {
      const http = await post(server.url, { query }, { token: user.accessToken });
      expect(http.errors?.[0]?.extensions?.code).toBe(code);
      expect((await overSocket(client, query!)).errors?.[0]?.extensions?.code).toBe(code);
    }
  });

  it("hide field suggestions as over HTTP when introspection is off, so a typo cannot map the schema", async () => {
    const user = await register(server.url);
    const client = await live(user.accessToken);
    const typo = "{ mee { id } }";
    const http = await post(server.url, { query: typo }, { token: user.accessToken });
    expect(http.errors?.[0]?.message).not.toMatch(/Did you mean/);
    const result = await overSocket(client, typo);
    expect(result.errors?.[0]?.message).toMatch(/Cannot query field "mee"/);
    expect(result.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });
});

describe("sockets not yet authenticated", () => {
  /** Resolves with the open socket, or the HTTP status its upgrade was refused with. */
  const upgrade = () =>
    new Promise<WebSocket | number>((resolve, reject) => {
      const ws = new WebSocket(wsUrl(server.url), "graphql-transport-ws");
      ws.once("open", () => resolve(ws));
      ws.once("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
      ws.once("error", reject);
    });
  const acknowledged = async (ws: WebSocket, token: string) => {
    ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
    const [data] = (await once(ws, "message")) as [Buffer];
    expect(JSON.parse(String(data))).toEqual({ type: "connection_ack" });
  };

  it(`are at most LIVE_MAX_PENDING_PER_IP per client: one more upgrade is refused with 429 until one authenticates or closes`, async () => {
    const user = await register(server.url);
    const sockets = (await Promise.all(Array.from({ length: MAX_PENDING }, upgrade))) as WebSocket[];
    try {
      expect(sockets.every((ws) => ws instanceof WebSocket)).toBe(true);
      expect(await upgrade()).toBe(429);
      // An authenticated socket no longer counts against its client.
      await acknowledged(sockets[0]!, user.accessToken);
      const next = await upgrade();
      expect(next).toBeInstanceOf(WebSocket);
      sockets.push(next as WebSocket);
      expect(await upgrade()).toBe(429);
      // Nor does a closed one.
      sockets[1]!.close();
      await once(sockets[1]!, "close");
      await new Promise((resolve) => setTimeout(resolve, 50));
      const after = await upgrade();
      expect(after).toBeInstanceOf(WebSocket);
      sockets.push(after as WebSocket);
    } finally {
      for (const ws of sockets) ws.terminate();
    }
  });
});
