import { once } from "node:events";
import WebSocket from "ws";
import { LoginDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { auditSubscriptions, wsUrl } from "../support/live";
import { startRedis, type TestRedis } from "../support/redis";

/**
 * What one socket's subscriptions may hold, on Redis: a socket's subscriptions are its
 * connection's, bounded by LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION however the client times its
 * messages, and none outlives the socket.
 */
let redis: TestRedis;
let api: TestApi;
const ROOT_EMAIL = uniqueEmail("root");
const sockets: WebSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  api = await startApi(redis.url, { ADMIN_EMAIL: ROOT_EMAIL, ADMIN_PASSWORD: PASSWORD, MAIL_URL: "off", LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: "2" });
});
afterEach(() => {
  for (const ws of sockets.splice(0)) ws.terminate();
});
afterAll(async () => {
  await api?.stop();
  await redis?.destroy();
});

const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms));
const tailConnections = async () => ((await redis.client.call("CLIENT", "LIST")) as string).split("\n").filter((line) => / cmd=xread /.test(line));

/** What `promise` resolves with, or "still waiting" after `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "still waiting"> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<"still waiting">((resolve) => (timer = setTimeout(() => resolve("still waiting"), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A socket driven frame by frame, as a hostile client would: acknowledged, then left to the test. */
async function rawSocket(token: string) {
  const ws = new WebSocket(wsUrl(api.url), "graphql-transport-ws");
  sockets.push(ws);
  const frames: { id?: string; type: string }[] = [];
  ws.on("message", (data) => frames.push(JSON.parse(String(data)) as { id?: string; type: string }));
  const closed = once(ws, "close").then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
  await once(ws, "open");
  ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
  while (!frames.some((frame) => frame.type === "connection_ack")) await settle(10);
  return { ws, frames, closed };
}

describe("a socket's subscriptions", () => {
  it.each([
    ["auditEvents", "subscription { auditEvents { type userId } }"],
    ["sessionEvents", "subscription { sessionEvents { type } }"],
  ])("closes a socket with 4409 when it reuses the id of a %s operation still in flight, leaving nothing running", async (_name, query) => {
    const admin = await login(api.url, ROOT_EMAIL);
    const { ws, frames, closed } = await rawSocket(admin.accessToken);
    // Each complete lands while its subscribe is still being checked: graphql-ws forgets the id
    // there, and would run every one of them under it, past the limit of 2 and past the socket.
    for (let i = 0; i < 20; i++) {
      ws.send(JSON.stringify({ id: "x", type: "subscribe", payload: { query } }));
      ws.send(JSON.stringify({ id: "x", type: "complete" }));
    }
    ws.send(JSON.stringify({ id: "x", type: "subscribe", payload: { query } }));
    expect(await within(closed, 3000)).toEqual({ code: 4409, reason: "Subscriber for x already exists" });
    await settle();
    await auditSubscriptions(api.url, 0);
    expect(await tailConnections()).toEqual([]);
    // An event after the close reaches no subscription, and the socket heard no event.
    const user = await register(api.url);
    await send(api.url, LoginDocument, { input: { email: user.user.email, password: "not the password" } });
    await settle();
    await auditSubscriptions(api.url, 0);
    expect(frames.filter((frame) => frame.type === "next")).toEqual([]);
  });

  it("counts an auditEvents subscription whose tail is still opening against the limit", async () => {
    const admin = await login(api.url, ROOT_EMAIL);
    const { ws, frames } = await rawSocket(admin.accessToken);
    for (const id of ["a", "b", "c"]) ws.send(JSON.stringify({ id, type: "subscribe", payload: { query: "subscription { auditEvents { type } }" } }));
    await auditSubscriptions(api.url, 2);
    await settle();
    const refused = frames.filter((frame) => frame.id === "c");
    expect(refused).toEqual([expect.objectContaining({ type: "error", payload: [expect.objectContaining({ message: expect.stringMatching(/LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION/) })] })]);
    ws.terminate();
    await auditSubscriptions(api.url, 0);
  });
});
