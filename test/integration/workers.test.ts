import { spawnSync } from "node:child_process";
import { request } from "node:http";
import { resolve } from "node:path";
import { print } from "graphql";
import { LogoutDocument, MeDocument } from "../../schema/generated/graphql";
import { spawnApi, testEnv, type ApiProcess } from "../support/api";
import { register } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

/**
 * WORKERS=2: a primary and two workers sharing one port. node:cluster hands each new connection
 * to the next worker in turn, so each request here goes on a connection of its own, and the
 * `worker` field of the request's log line (found by its X-Request-Id) says which worker served it.
 */
let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.destroy());

interface Answer {
  readonly status: number;
  readonly requestId: string;
  readonly body: { data?: unknown; errors?: { extensions?: { reason?: string } }[] };
}

/** POSTs an operation on a new connection (no keep-alive agent), so cluster picks a worker for it. */
function postOnNewConnection(url: string, query: string, token?: string): Promise<Answer> {
  const body = JSON.stringify({ query });
  return new Promise((resolvePromise, reject) => {
    const req = request(url, {
      method: "POST",
      agent: false,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolvePromise({ status: res.statusCode!, requestId: String(res.headers["x-request-id"]), body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const jsonLines = (api: ApiProcess) =>
  api
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

async function eventually<T>(probe: () => T | undefined, what: string, withinMs = 10_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The worker whose log line has this request id (lines are written asynchronously: wait for it). */
const workerThatServed = (api: ApiProcess, requestId: string) =>
  eventually(() => jsonLines(api).find((line) => line.msg === "request" && line.requestId === requestId)?.worker as number | undefined, `the log line of ${requestId}`);

const listeningWorkers = (api: ApiProcess) => jsonLines(api).filter((line) => line.msg === "worker listening");

async function spawnWorkers(): Promise<ApiProcess> {
  const api = await spawnApi(redis.url, { WORKERS: "2" });
  await eventually(() => (listeningWorkers(api).length >= 2 ? true : undefined), "two workers listening");
  return api;
}

describe("WORKERS=2 on Redis", () => {
  let api: ApiProcess;
  beforeAll(async () => {
    api = await spawnWorkers();
  });
  afterAll(() => api?.stop());

  it("refuses, through the other worker, a token logged out through one", async () => {
    const user = await register(api.url);
    const logout = await postOnNewConnection(api.url, print(LogoutDocument), user.accessToken);
    expect(logout.status).toBe(200);
    const loggedOutOn = await workerThatServed(api, logout.requestId);

    const servedBy = new Set<number>();
    for (let i = 0; i < 10 && !(servedBy.size > 0 && [...servedBy].some((w) => w !== loggedOutOn)); i++) {
      const me = await postOnNewConnection(api.url, print(MeDocument), user.accessToken);
      expect(me.status).toBe(401);
      expect(me.body.errors?.[0]?.extensions?.reason).toBe("TOKEN_REVOKED");
      servedBy.add(await workerThatServed(api, me.requestId));
    }
    expect([...servedBy].filter((worker) => worker !== loggedOutOn)).not.toHaveLength(0);
  });

  it("reports every worker's requests together at /metrics", async () => {
    const user = await register(api.url);
    const served = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const me = await postOnNewConnection(api.url, "{ me { id } }", user.accessToken);
      expect(me.status).toBe(200);
      served.add(await workerThatServed(api, me.requestId));
    }
    expect(served.size).toBe(2);
    const okRequests = jsonLines(api).filter((line) => line.msg === "request" && line.auth === "ok").length;
    const text = await (await fetch(api.url.replace(/\/graphql$/, "/metrics"))).text();
    expect(text).toMatch(new RegExp(`^auth_requests_total\\{outcome="ok"\\} ${okRequests}$`, "m"));
  });

  it("replaces a worker that dies, and keeps serving", async () => {
    const before = listeningWorkers(api);
    const victim = before[before.length - 1]!;
    process.kill(victim.pid as number, "SIGKILL");
    await eventually(() => (listeningWorkers(api).length > before.length ? true : undefined), "a replacement worker");
    expect(jsonLines(api).some((line) => line.msg === "worker died: starting a replacement" && line.worker === victim.worker)).toBe(true);
    for (let i = 0; i < 4; i++) expect((await postOnNewConnection(api.url, "{ __typename }")).status).toBe(200);
  });
});

describe("stopping WORKERS=2", () => {
  it("on SIGTERM lets every worker finish its request in flight, then exits 0", async () => {
    const api = await spawnWorkers();
    const user = await register(api.url);
    const body = JSON.stringify({ query: "{ me { email } }" });
    const answer = new Promise<{ status: number; body: string }>((resolvePromise, reject) => {
      const req = request(api.url, {
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${user.accessToken}` },
      });
      req.on("response", (res) => {
        let text = "";
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolvePromise({ status: res.statusCode!, body: text }));
      });
      req.on("error", reject);
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 500);
    });
    await new Promise((r) => setTimeout(r, 200));
    const exit = api.stop("SIGTERM");
    const response = await answer;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body).data.me.email).toBe(user.user.email);
    expect(await exit).toBe(0);
    expect(jsonLines(api).filter((line) => line.msg === "stopped").length).toBe(3);
  });
});

describe("starting with WORKERS", () => {
  it("refuses WORKERS greater than 1 with the embedded store, as a configuration error (exit 2)", () => {
    const result = spawnSync(process.execPath, [resolve(__dirname, "../../dist/index.js")], {
      env: { PATH: process.env.PATH ?? "", ...testEnv(null, { WORKERS: "2" }) },
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/WORKERS greater than 1 needs REDIS_URL/);
  });
});
