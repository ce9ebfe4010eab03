import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { LogoutAllDocument } from "../../schema/generated/graphql";
import type { TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { asymmetricEnv, newKey } from "../support/keys";
import { authorizeInBrowser, CookieJar, registerClient, startOAuthApi } from "../support/oauth";
import { freePort } from "../support/ports";
import { startRedis, type TestRedis } from "../support/redis";

// Issue 28: "A relying party in the tests is openid-client 6, in a separate process with a real
// callback server and a back-channel logout receiver" (test/support/relying-party.mjs). The browser
// is played over HTTP with a cookie jar: the RP's /login, the provider's pages, the RP's /callback.
const SECRET = "a-client-secret-that-is-long-and-random-0123456789";
const KEYS = asymmetricEnv([newKey("ES256")]);
let redis: TestRedis;
let a: TestApi & { issuer: string };
let b: TestApi & { issuer: string };
let rp: ChildProcess;
let rpBase: string;

interface RpState {
  readonly signIns: { sub: string; sid: string; loggedOut: boolean }[];
  readonly logouts: { ok: boolean; claims?: Record<string, unknown>; error?: string }[];
}

beforeAll(async () => {
  redis = await startRedis();
  const port = await freePort();
  rpBase = `http://127.0.0.1:${port}`;
  a = await startOAuthApi(redis.url, KEYS);
  // A second instance of the same deployment: same Redis, keys and issuer.
  b = await startOAuthApi(redis.url, { ...KEYS, OAUTH_ISSUER: a.issuer });
  await registerClient(a, { clientId: "rp-app", redirectUris: [`${rpBase}/callback`], backchannelLogoutUri: `${rpBase}/backchannel-logout` }, SECRET);
  rp = spawn(process.execPath, [resolve(__dirname, "../support/relying-party.mjs"), JSON.stringify({ port, issuer: a.issuer, clientId: "rp-app", secret: SECRET })], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((done, fail) => {
    rp.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes('"listening"') && done());
    rp.once("exit", (code) => fail(new Error(`relying party exited with ${code}`)));
  });
});
afterAll(async () => {
  if (rp && rp.exitCode === null) {
    rp.kill("SIGTERM");
    await once(rp, "exit");
  }
  await b?.stop();
  await a?.stop();
  await redis?.destroy();
});

const rpGet = async <T>(path: string): Promise<T> => (await (await fetch(`${rpBase}${path}`)).json()) as T;

async function rpState(until: (state: RpState) => boolean): Promise<RpState> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const state = await rpGet<RpState>("/state");
    if (until(state) || Date.now() > deadline) return state;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a relying party in a process of its own (openid-client 6)", () => {
  it("signs a user in with code + PKCE, is told of logoutAll on another instance by a valid logout token with its ID token's sid, and its tokens then introspect inactive", async () => {
    const email = uniqueEmail("rp");
    const { user } = await register(`${a.issuer}/graphql`, { email });
    const start = await fetch(`${rpBase}/login`, { redirect: "manual" });
    expect(start.status).toBe(302);
    const callback = await authorizeInBrowser(new CookieJar(), start.headers.get("location")!, email, PASSWORD, `${rpBase}/callback`);
    const signedIn = await fetch(callback);
    expect(signedIn.status).toBe(200);
    const { sub, sid } = (await signedIn.json()) as { sub: string; sid: string };
    expect(sub).toBe(user.id);
    expect(typeof sid).toBe("string");
    expect((await rpGet<{ results: unknown[] }>("/introspect")).results).toEqual([{ sid, access: true, refresh: true }]);

    const own = await login(b.url, email);
    expect((await send(b.url, LogoutAllDocument, {}, { token: own.accessToken })).errors).toBeUndefined();

    const state = await rpState((s) => s.logouts.length > 0);
    expect(state.logouts).toEqual([{ ok: true, claims: expect.objectContaining({ iss: a.issuer, aud: "rp-app", sub, sid }) }]);
    expect(state.signIns).toEqual([{ sub, sid, loggedOut: true }]);
    expect((await rpGet<{ results: unknown[] }>("/introspect")).results).toEqual([{ sid, access: false, refresh: false }]);
  });
});
