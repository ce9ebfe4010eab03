import { once } from "node:events";
import WebSocket from "ws";
import { LogoutDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { register, send } from "../support/client";
import { closedWithin, openLive, wsUrl, type LiveClient } from "../support/live";

/** The bounds on what a socket may hold or cost, on the embedded store (its in-process channel). */
let server: TestApi;
const open: LiveClient[] = [];

beforeAll(async () => {
  server = await startApi(null, {
    LIVE_MAX_CONNECTIONS_PER_USER: "2",
    LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: "2",
    LIVE_ALLOWED_ORIGINS: "https://app.example.com",
    LIVE_PING_SECONDS: "1",
    MAX_TOKENS: "60",
  });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((live) => live.dispose()));
});
afterAll(async () => {
  await server?.stop();
});

async function live(token: string, options: Parameters<typeof openLive>[2] = {}) {
  const client = await openLive(server.url, token, options);
  open.push(client);
  return client;
}

async function rawSocket(headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl(server.url), "graphql-transport-ws", { headers });
  await once(ws, "open");
  return ws;
}

const closeOf = async (ws: WebSocket) => {
  const [code, reason] = (await once(ws, "close")) as [number, Buffer];
  return { code, reason: String(reason) };
};

const metric = async (name: string) => {
  const text = await (await fetch(server.url.replace("/graphql", "/metrics"))).text();
  return text.split("\n").filter((line) => line.startsWith(name));
};

describe("bounds", () => {
  it("closes a socket that sends no connection_init within 3 s (4408)", async () => {
    const ws = await rawSocket();
    const started = Date.now();
    expect((await closeOf(ws)).code).toBe(4408);
    expect(Date.now() - started).toBeLessThan(3800);
  });

  it("closes the user's oldest socket with 1008 CONNECTION_LIMIT when one more than LIVE_MAX_CONNECTIONS_PER_USER opens", async () => {
    const user = await register(server.url);
    const first = await live(user.accessToken);
    const second = await live(user.accessToken);
    await live(user.accessToken);
    expect(await closedWithin(first, 1000)).toEqual({ code: 1008, reason: "CONNECTION_LIMIT" });
    expect(await second.me()).toBe(user.user.id);
  });

  it("refuses a subscription past LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION with an error, keeping the socket", async () => {
    const user = await register(server.url);
    const client = await live(user.accessToken);
    const extra = () =>
      new Promise<unknown>((resolve) => {
        client.client.subscribe({ query: "subscription { sessionEvents { type } }" }, { next: () => undefined, error: resolve, complete: () => resolve(null) });
      });
    const outcome = await Promise.race([extra(), new Promise((r) => setTimeout(() => r("running"), 300))]);
    // The first (in openLive) and this one run; a third is refused.
    expect(outcome).toBe("running");
    const refused = (await extra()) as { message: string }[];
    expect(refused[0]!.message).toMatch(/LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION/);
    expect(client.isClosed()).toBe(false);
  });

  it("applies MAX_TOKENS and validation to operations over the socket", async () => {
    const user = await register(server.url);
    const client = await live(user.accessToken);
    const query = `subscription { sessionEvents { ${"type ".repeat(80)} } }`;
    const errors = await new Promise<{ message: string }[]>((resolve) => {
      client.client.subscribe({ query }, { next: () => undefined, error: (e) => resolve(e as { message: string }[]), complete: () => undefined });
    });
    expect(errors[0]!.message).toMatch(/Token limit of 60 exceeded \(MAX_TOKENS\)/);
  });

  it("closes a socket whose message is larger than 64 KB with 1009", async () => {
    const ws = await rawSocket();
    ws.send("x".repeat(64 * 1024 + 1));
    expect((await closeOf(ws)).code).toBe(1009);
  });

  it("refuses a browser Origin not in LIVE_ALLOWED_ORIGINS before the upgrade, and accepts a listed one or none", async () => {
    const refused = new WebSocket(wsUrl(server.url), "graphql-transport-ws", { headers: { origin: "https://evil.example.com" } });
    const [, response] = (await once(refused, "unexpected-response")) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(403);
    refused.on("error", () => undefined).terminate();
    const user = await register(server.url);
    expect(await (await live(user.accessToken, { headers: { origin: "https://app.example.com" } })).me()).toBe(user.user.id);
  });

  it("answers an upgrade on another path with 404", async () => {
    const ws = new WebSocket(wsUrl(server.url).replace("/graphql", "/elsewhere"), "graphql-transport-ws");
    const [, response] = (await once(ws, "unexpected-response")) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(404);
    ws.on("error", () => undefined).terminate();
  });

  it("drops a peer that stops answering pings", async () => {
    const user = await register(server.url);
    const client = await live(user.accessToken);
    const before = await metric("auth_live_connections ");
    expect(Number(before[0]!.split(" ")[1])).toBeGreaterThanOrEqual(1);
    // Stop reading: the server's pings go unanswered.
    const raw = new WebSocket(wsUrl(server.url), "graphql-transport-ws");
    await once(raw, "open");
    raw.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${user.accessToken}` } }));
    await once(raw, "message");
    const count = async () => Number((await metric("auth_live_connections "))[0]!.split(" ")[1]);
    const withPeer = await count();
    (raw as unknown as { _socket: { pause(): void } })._socket.pause();
    const deadline = Date.now() + 4000;
    while ((await count()) >= withPeer && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await count()).toBe(withPeer - 1);
    expect(client.isClosed()).toBe(false);
    raw.terminate();
  });
});

describe("metrics", () => {
  it("counts open connections, closes by reason, and the revocation-to-close latency", async () => {
    const user = await register(server.url);
    const client = await live(user.accessToken);
    await send(server.url, LogoutDocument, {}, { token: user.accessToken });
    await closedWithin(client, 1000);
    expect(await metric('auth_live_closed_total{reason="TOKEN_REVOKED"}')).toEqual([expect.stringMatching(/ [1-9]\d*$/)]);
    expect(await metric("auth_live_revocation_close_seconds_count")).toEqual([expect.stringMatching(/ [1-9]\d*$/)]);
    expect(await metric("auth_live_connections")).toEqual(expect.arrayContaining([expect.stringMatching(/^auth_live_connections \d+$/)]));
  });
});

describe("shutdown", () => {
  it("closes every socket with 1001 and does not wait on them", async () => {
    const other = await startApi(null);
    const user = await register(other.url);
    const client = await openLive(other.url, user.accessToken);
    const started = Date.now();
    await other.stop();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await closedWithin(client, 1000)).toEqual({ code: 1001, reason: "SERVER_SHUTTING_DOWN" });
    await client.dispose();
  });
});
