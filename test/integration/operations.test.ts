import { once } from "node:events";
import { request } from "node:http";
import { connect } from "node:net";
import {
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
  RegisterDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  RevokeSessionDocument,
} from "../../schema/generated/graphql";
import { keys } from "@revocable-auth/verifier/internal";
import { spawnApi, type ApiProcess } from "../support/api";
import { login, PASSWORD, post, register, send, uniqueEmail } from "../support/client";
import { Mailbox, tokenIn } from "../support/mailbox";
import { startRedis, type TestRedis } from "../support/redis";
import { eventually } from "../support/redis-node";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.destroy());

const origin = (api: ApiProcess) => api.url.replace(/\/graphql$/, "");
const logLines = (api: ApiProcess) =>
  api
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe("logs", () => {
  it("are JSON lines with a request id and the auth outcome of each request", async () => {
    const api = await spawnApi(redis.url);
    try {
      const user = await register(api.url);
      await send(api.url, MeDocument, {}, { token: user.accessToken, headers: { "x-request-id": "trace-me-123" } });
      await send(api.url, LogoutDocument, {}, { token: user.accessToken });
      const refused = await send(api.url, MeDocument, {}, { token: user.accessToken });
      expect(refused.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      await new Promise((r) => setTimeout(r, 100));

      const requests = logLines(api).filter((line) => line.msg === "request");
      expect(requests.find((line) => line.requestId === "trace-me-123")).toMatchObject({ auth: "ok", status: 200, path: "/graphql" });
      expect(requests.find((line) => line.requestId === refused.headers.get("x-request-id"))).toMatchObject({ auth: "TOKEN_REVOKED", status: 401 });
      expect(requests.some((line) => line.auth === "anonymous")).toBe(true);
    } finally {
      await api.stop();
    }
  });

  it("never contain a token, a password or a password hash, through a full run that includes failures", async () => {
    // Real SMTP: without MAIL_URL the development transport writes mails, links included, to the log on purpose.
    const mailbox = await Mailbox.start();
    const api = await spawnApi(redis.url, { LOG_LEVEL: "trace", REFRESH_REUSE_GRACE_SECONDS: "0", MAIL_URL: mailbox.url });
    const secrets: string[] = [];
    const email = uniqueEmail("logs");
    try {
      const password = "a password only this test knows";
      const first = await register(api.url, { email, password, device: "laptop" });
      const second = await login(api.url, email, password, "phone");
      const refreshed = (await send(api.url, RefreshDocument, { refreshToken: second.refreshToken! })).data!.refresh;
      await send(api.url, RefreshDocument, { refreshToken: second.refreshToken! }); // reuse
      await send(api.url, LoginDocument, { input: { email, password: "wrong password here" } });
      await send(api.url, RegisterDocument, { input: { email: "not-an-email", password: "short-pw" } });
      await send(api.url, MeDocument, {}, { token: `${first.accessToken}tampered` });
      await send(api.url, RevokeSessionDocument, { id: "nope" }, { token: first.accessToken });
      await post(api.url, { query: "{ me { email }" }, { token: first.accessToken });
      const hash = await redis.client.get(keys.password(first.user.id));
      await redis.stop();
      await send(api.url, LoginDocument, { input: { email, password } });
      await send(api.url, RegisterDocument, { input: { email: uniqueEmail(), password } });
      await send(api.url, MeDocument, {}, { token: first.accessToken });
      await redis.start();
      await eventually("the store answers again", async () => (await send(api.url, RequestPasswordResetDocument, { email })).status === 200);
      const resetToken = tokenIn(await mailbox.nth(email, /Reset your password/));
      await send(api.url, ResetPasswordDocument, { token: resetToken, newPassword: "the reset's new password" });
      const verifyToken = tokenIn(await mailbox.nth(email, /Confirm your email/));
      secrets.push(resetToken.split(".")[1]!, verifyToken.split(".")[1]!, "the reset's new password");
      secrets.push(password, "wrong password here", "short-pw", hash!, first.accessToken, first.refreshToken!, second.accessToken, second.refreshToken!, refreshed.accessToken, refreshed.refreshToken!);
      for (const token of secrets.slice(7)) secrets.push(token.split(".")[2]!);
    } finally {
      await api.stop();
      await mailbox.stop();
    }
    const output = api.output();
    expect(output).toContain("store call failed");
    // The audit trail saw the failed login and the reuse, naming the user by id, never by email.
    const audit = logLines(api).filter((line) => line.audit !== undefined);
    expect(audit.map((line) => line.audit)).toEqual(expect.arrayContaining(["login_failed", "refresh_reuse"]));
    secrets.push(email);
    expect(logLines(api).length).toBeGreaterThan(10);
    for (const secret of secrets) expect(output.includes(secret) ? secret : "absent").toBe("absent");
    expect(output).not.toMatch(/\$argon2id\$/);
  });
});

describe("GET /metrics", () => {
  it("exposes requests by auth outcome, revocations by kind, store latency and store errors", async () => {
    const api = await spawnApi(redis.url);
    try {
      const user = await register(api.url);
      await send(api.url, MeDocument, {}, { token: user.accessToken });
      await send(api.url, LogoutDocument, {}, { token: user.accessToken });
      await send(api.url, MeDocument, {}, { token: user.accessToken });
      const response = await fetch(`${origin(api)}/metrics`);
      expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
      const text = await response.text();
      expect(text).toMatch(/^auth_requests_total\{outcome="ok"\} [1-9]/m);
      expect(text).toMatch(/^auth_requests_total\{outcome="TOKEN_REVOKED"\} 1$/m);
      expect(text).toMatch(/^auth_requests_total\{outcome="anonymous"\} [1-9]/m);
      expect(text).toMatch(/^auth_revocations_total\{kind="logout"\} 1$/m);
      expect(text).toMatch(/^auth_store_round_trip_seconds_count\{operation="accessState"\} 3$/m);
      expect(text).toMatch(/^# TYPE auth_store_errors_total counter$/m);
    } finally {
      await api.stop();
    }
  });
});

describe("graceful shutdown", () => {
  it("on SIGTERM stops accepting connections, finishes the request in flight, closes Redis and exits 0", async () => {
    const api = await spawnApi(redis.url);
    const user = await register(api.url);
    const before = Number(/connected_clients:(\d+)/.exec(await redis.client.info("clients"))![1]);
    const body = JSON.stringify({ query: "{ me { email } }" });
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(api.url, {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${user.accessToken}` },
      });
      req.on("response", (res) => {
        let text = "";
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on("error", reject);
      req.write(body.slice(0, 10));
      setTimeout(async () => {
        const exit = api.stop("SIGTERM");
        await new Promise((r) => setTimeout(r, 300));
        await expect(fetch(`${origin(api)}/healthz`)).rejects.toThrow();
        req.end(body.slice(10));
        exitCode.resolve(await exit);
      }, 200);
    });
    const exitCode = deferred<number | NodeJS.Signals | null>();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body).data.me.email).toBe(user.user.email);
    expect(await exitCode.promise).toBe(0);
    const after = Number(/connected_clients:(\d+)/.exec(await redis.client.info("clients"))![1]);
    // Both of its connections: the store's, and the live channel's subscriber (src/live/redis-channel.ts).
    expect(after).toBe(before - 2);
    expect(api.output()).toContain("stopped");
  });
});

describe("graceful shutdown, a connection that never sent a request", () => {
  // A browser's preconnected socket is one: it held every stop for the whole drain bound (10 s).
  it("is closed at once, so the stop does not wait for the drain bound", async () => {
    const api = await spawnApi(redis.url);
    const { port } = new URL(api.url);
    const silent = connect(Number(port), "127.0.0.1");
    await once(silent, "connect");
    const closed = once(silent, "close");
    const started = Date.now();
    expect(await api.stop("SIGTERM")).toBe(0);
    await closed;
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("graceful shutdown, a keep-alive connection", () => {
  it("still gets an answer, with Connection: close, for a request sent on it while the server drains", async () => {
    const api = await spawnApi(redis.url);
    const { port } = new URL(api.url);
    const socket = connect(Number(port), "127.0.0.1");
    await once(socket, "connect");
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString()));
    const body = JSON.stringify({ query: "{ __typename }" });
    const head = `POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    socket.write(head + body.slice(0, 5));
    await new Promise((r) => setTimeout(r, 200));
    const exit = api.stop("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    // Finish the first request and pipeline a second one behind it on the same connection.
    socket.write(body.slice(5) + head + body);
    await once(socket, "close");
    const statuses = [...received.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((match) => Number(match[1]));
    expect(statuses).toEqual([200, 200]);
    expect(received.match(/\{"data":\{"__typename":"Query"\}\}/g)).toHaveLength(2);
    expect(received.toLowerCase()).toContain("connection: close");
    expect(await exit).toBe(0);
  });
});

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

