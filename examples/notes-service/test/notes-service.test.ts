import { spawn, type ChildProcess } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import jwt from "jsonwebtoken";
import { once } from "node:events";
import { resolve } from "node:path";
import {
  LoginDocument,
  LogoutAllDocument,
  LogoutDocument,
  RefreshDocument,
  RevokeSessionDocument,
  SetUserDisabledDocument,
} from "../../../schema/generated/graphql";
import { startApi, TEST_AUDIENCE, TEST_ISSUER, type TestApi } from "../../../test/support/api";
import { login, post, register, send, uniqueEmail, PASSWORD } from "../../../test/support/client";
import { asymmetricEnv, claimsOf, headerOf, newKey } from "../../../test/support/keys";
import { freePort, startRedis, type TestRedis } from "../../../test/support/redis";
import { acknowledged, refusedWith } from "../../../test/support/live";
import { boundSignIn, dpopHeaders, dpopKey, proof } from "../../../test/support/dpop";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

/**
 * End to end: the auth API signing with ES256 on a real Redis, and the example notes service in
 * its own process, configured with nothing but the API's JWKS URL, issuer, audience and Redis.
 */
const ADMIN_EMAIL = uniqueEmail("admin");
const [keyA, keyB] = [newKey("ES256"), newKey("ES256")];

let redis: TestRedis;
let apiPort: number;
let api: TestApi;
let notes: { url: string; wsUrl: string; process: ChildProcess; env: Record<string, string>; output(): string };

async function startAuthApi(env: Record<string, string>): Promise<TestApi> {
  return startApi(redis.url, { ...env, PORT: String(apiPort), ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD });
}

async function startNotes(): Promise<typeof notes> {
  const port = await freePort();
  const wsPort = await freePort();
  const env = {
    PATH: process.env.PATH ?? "",
    PORT: String(port),
    WS_PORT: String(wsPort),
    AUTH_JWKS_URL: `http://localhost:${apiPort}/.well-known/jwks.json`,
    AUTH_ISSUER: TEST_ISSUER,
    AUTH_AUDIENCE: TEST_AUDIENCE,
    REDIS_URL: redis.url,
    AUTH_JWKS_COOLDOWN_MS: "200",
  };
  const child = spawn(process.execPath, [resolve(__dirname, "../dist/index.js")], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 20_000;
  while (!output.includes("ready at")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`notes service did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://localhost:${port}/`, wsUrl: `ws://localhost:${wsPort}/`, process: child, env, output: () => output };
}

beforeAll(async () => {
  redis = await startRedis();
  apiPort = await freePort();
  api = await startAuthApi(asymmetricEnv([keyA]));
  notes = await startNotes();
});
afterAll(async () => {
  notes.process.kill("SIGTERM");
  await once(notes.process, "exit");
  await api.stop();
  await redis.destroy();
});

const MY_NOTES = "{ myNotes { id text } }";
const askNotes = (token?: string, query = MY_NOTES) => post<{ myNotes: { text: string }[]; noteCount: number }>(notes.url, { query }, token ? { token } : {});

async function expectAnswers(token: string) {
  const result = await askNotes(token);
  expect(result.status).toBe(200);
  expect(result.errors).toBeUndefined();
  return result;
}

async function expectRevoked(token: string) {
  const result = await askNotes(token);
  expect(result.status).toBe(401);
  expect(result.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
  expect(result.error).toEqual({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED", message: "The token has been revoked" });
}

describe("a DPoP-bound token at the notes service (enforced by the verifier)", () => {
  it("answers with a fresh proof from the token's key, and refuses a copy of the token without one", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(api.url, key);
    const token = auth.accessToken;
    expect(auth.tokenType).toBe("DPoP");
    const sent = await proof(key, { htu: notes.url, accessToken: token });
    const withProof = await post(notes.url, { query: MY_NOTES }, { headers: dpopHeaders(token, sent) });
    expect(withProof.status).toBe(200);
    expect(withProof.errors).toBeUndefined();
    // The copied token: as a bearer token, or without a proof, or with a proof of the thief's own key.
    const copied = await askNotes(token);
    expect(copied.status).toBe(401);
    expect(copied.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "DPOP_PROOF_REQUIRED" });
    expect(copied.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_dpop_proof"/);
    expect((await post(notes.url, { query: MY_NOTES }, { headers: { authorization: `DPoP ${token}` } })).error).toMatchObject({ reason: "DPOP_PROOF_REQUIRED" });
    const thief = await dpopKey();
    expect((await post(notes.url, { query: MY_NOTES }, { headers: dpopHeaders(token, await proof(thief, { htu: notes.url, accessToken: token })) })).error).toMatchObject({ reason: "INVALID_DPOP_PROOF" });
    // The whole request copied, proof included: its jti was recorded in the auth API's Redis.
    const replayed = await post(notes.url, { query: MY_NOTES }, { headers: dpopHeaders(token, sent) });
    expect(replayed.error).toMatchObject({ reason: "DPOP_PROOF_REPLAYED" });
    // A proof for the auth API's URL is not one for this service's.
    expect((await post(notes.url, { query: MY_NOTES }, { headers: dpopHeaders(token, await proof(key, { htu: api.url, accessToken: token })) })).error).toMatchObject({ reason: "INVALID_DPOP_PROOF" });
  });

  it("opens a socket for a bound token with a proof for the socket's URL, and refuses a copied token or proof there", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(api.url, key);
    const authorization = `DPoP ${auth.accessToken}`;
    const params = { authorization, dpop: await proof(key, { htm: "GET", htu: notes.wsUrl, accessToken: auth.accessToken }) };
    expect(await acknowledged(notes.wsUrl, params)).toBe(true);
    expect(await refusedWith(notes.wsUrl, params)).toEqual({ code: 4403, reason: "DPOP_PROOF_REPLAYED" });
    expect(await refusedWith(notes.wsUrl, { authorization })).toEqual({ code: 4403, reason: "DPOP_PROOF_REQUIRED" });
    expect(await refusedWith(notes.wsUrl, { authorization: `Bearer ${auth.accessToken}` })).toEqual({ code: 4403, reason: "DPOP_PROOF_REQUIRED" });
    const forHttp = await proof(key, { htm: "GET", htu: notes.url, accessToken: auth.accessToken });
    expect(await refusedWith(notes.wsUrl, { authorization, dpop: forHttp })).toEqual({ code: 4403, reason: "INVALID_DPOP_PROOF" });
  });
});

describe("the notes service's subscriptions, closed by the auth API's revocation", () => {
  /** graphql-ws's client on the notes service's socket, subscribed to noteAdded. */
  async function noteSubscription(token: string) {
    const added: string[] = [];
    let closedWith: (info: { code: number; reason: string }) => void = () => undefined;
    const closed = new Promise<{ code: number; reason: string }>((resolve) => (closedWith = resolve));
    const client = createClient({
      url: notes.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
      on: { closed: (event) => closedWith({ code: (event as { code: number }).code, reason: String((event as { reason: unknown }).reason) }) },
    });
    const acked = new Promise<void>((resolve) => client.on("connected", () => resolve()));
    client.subscribe<{ noteAdded: { text: string } }>({ query: "subscription { noteAdded { text } }" }, {
      next: (result) => result.data && added.push(result.data.noteAdded.text),
      error: () => undefined,
      complete: () => undefined,
    });
    await acked;
    return { client, added, closed };
  }

  it("streams noteAdded to the signed-in user, and closes the socket with 4401 when they log out at the auth API", async () => {
    const { accessToken } = await register(api.url);
    const live = await noteSubscription(accessToken);
    try {
      for (let i = 0; live.added.length === 0 && i < 50; i++) {
        await post(notes.url, { query: `mutation { addNote(text: "note ${i}") { text } }` }, { token: accessToken });
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(live.added.length).toBeGreaterThan(0);
      await send(api.url, LogoutDocument, {}, { token: accessToken });
      const closed = await Promise.race([live.closed, new Promise((r) => setTimeout(() => r("still open"), 2000))]);
      expect(closed).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
    } finally {
      await live.client.dispose();
    }
  });

  it("refuses a revoked token at connection_init with 4401, without an ack", async () => {
    const { accessToken } = await register(api.url);
    await send(api.url, LogoutDocument, {}, { token: accessToken });
    expect(await refusedWith(notes.wsUrl, { authorization: `Bearer ${accessToken}` })).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  });
});

describe("the notes service, enforcing the auth API's revocation", () => {
  it("holds no private key and no JWT_SECRET, and the only keys it can fetch are public", async () => {
    expect(Object.keys(notes.env).filter((name) => name.startsWith("JWT_"))).toEqual([]);
    const jwks = await (await fetch(notes.env.AUTH_JWKS_URL!)).text();
    expect(JSON.parse(jwks).keys).toHaveLength(1);
    expect(jwks).not.toMatch(/"(d|p|q|dp|dq|qi|k)"/);
  });

  it("answers its own data for a token from the auth API", async () => {
    const { accessToken } = await register(api.url);
    const added = await post<{ addNote: { text: string } }>(notes.url, { query: 'mutation { addNote(text: "buy milk") { text } }' }, { token: accessToken });
    expect(added.data?.addNote.text).toBe("buy milk");
    expect((await expectAnswers(accessToken)).data?.myNotes.map((note) => note.text)).toEqual(["buy milk"]);
  });

  it("refuses the same token on its next request after logout on the auth API: 401 TOKEN_REVOKED", async () => {
    const { accessToken } = await register(api.url);
    await expectAnswers(accessToken);
    expect((await send(api.url, LogoutDocument, {}, { token: accessToken })).data?.logout).toBe(true);
    await expectRevoked(accessToken);
  });

  it("refuses every token of the user after logoutAll", async () => {
    const { user, accessToken } = await register(api.url);
    const phone = await login(api.url, user.email, PASSWORD, "phone");
    await expectAnswers(phone.accessToken);
    await send(api.url, LogoutAllDocument, {}, { token: accessToken });
    await expectRevoked(phone.accessToken);
    await expectRevoked(accessToken);
  });

  it("refuses the token of a session ended with revokeSession, and keeps answering the other", async () => {
    const laptop = await register(api.url);
    const phone = await login(api.url, laptop.user.email, PASSWORD, "phone");
    await expectAnswers(phone.accessToken);
    await send(api.url, RevokeSessionDocument, { id: phone.sessionId }, { token: laptop.accessToken });
    await expectRevoked(phone.accessToken);
    await expectAnswers(laptop.accessToken);
  });

  it("refuses a disabled user's token", async () => {
    const { user, accessToken } = await register(api.url);
    await expectAnswers(accessToken);
    const admin = await login(api.url, ADMIN_EMAIL);
    await send(api.url, SetUserDisabledDocument, { userId: user.id, disabled: true }, { token: admin.accessToken });
    await expectRevoked(accessToken);
  });

  it("answers as the auth API does without a token, with a bad one, and for a missing role", async () => {
    const anonymous = await askNotes();
    expect(anonymous.status).toBe(200);
    expect(anonymous.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "AUTHENTICATION_REQUIRED", message: "You must be logged in" });
    const garbage = await askNotes("eyJ.eyJ.bad");
    expect(garbage.status).toBe(401);
    expect(garbage.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_TOKEN" });
    const { accessToken } = await register(api.url);
    const forbidden = await askNotes(accessToken, "{ noteCount }");
    expect(forbidden.error).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_ROLE", message: "This operation requires the ADMIN role" });
    const admin = await login(api.url, ADMIN_EMAIL);
    expect((await askNotes(admin.accessToken, "{ noteCount }")).data?.noteCount).toBeGreaterThanOrEqual(1);
  });

  it("logs a token whose user record is missing from its Redis as its own cause, saying the API must use the same Redis", async () => {
    // The README's old mistake: an auth API on its embedded store, with the same key, issuer and audience.
    const elsewhere = await startApi(null, asymmetricEnv([keyA]));
    try {
      const { accessToken } = await register(elsewhere.url);
      await expectRevoked(accessToken);
      const line = notes
        .output()
        .split("\n")
        .find((entry) => entry.includes('"cause":"user_missing"'));
      expect(JSON.parse(line!)).toMatchObject({ msg: "token refused: TOKEN_REVOKED", hint: expect.stringContaining("same Redis (its REDIS_URL)") });
      expect(line).not.toContain(accessToken);
    } finally {
      await elsewhere.stop();
    }
  });

  it("refuses a token living longer than the auth API's ACCESS_TOKEN_TTL, as the API does", async () => {
    const { accessToken } = await register(api.url);
    await expectAnswers(accessToken);
    const claims = claimsOf(accessToken) as { iat: number };
    const longLived = jwt.sign({ ...claims, exp: claims.iat + 10 * 365 * 24 * 3600 }, createPrivateKey({ key: keyA, format: "jwk" }), {
      algorithm: "ES256",
      header: { ...headerOf(accessToken), alg: "ES256" } as jwt.JwtHeader,
    });
    const result = await askNotes(longLived);
    expect(result.status).toBe(401);
    expect(result.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_TOKEN" });
  });

  it("keeps working through a key rotation on the auth API, and still enforces logout after it", async () => {
    const before = await register(api.url);
    let refreshToken = before.refreshToken!;
    await expectAnswers(before.accessToken);

    const restart = async (env: Record<string, string>) => {
      await api.stop();
      api = await startAuthApi(env);
    };
    await restart(asymmetricEnv([keyA, keyB], keyA)); // 1. publish B
    await expectAnswers(before.accessToken);
    await restart(asymmetricEnv([keyA, keyB], keyB)); // 2. B signs
    const switched = await login(api.url, before.user.email);
    expect(headerOf(switched.accessToken).kid).toBe(keyB.kid);
    await new Promise((r) => setTimeout(r, 250)); // the example's JWKS cooldown, so the new kid is fetched
    await expectAnswers(switched.accessToken);
    await expectAnswers(before.accessToken);
    const refreshed = await send(api.url, RefreshDocument, { refreshToken });
    refreshToken = refreshed.data!.refresh.refreshToken!;
    await restart(asymmetricEnv([keyB])); // 3. A removed
    const again = await send(api.url, RefreshDocument, { refreshToken });
    const latest = again.data!.refresh.accessToken;
    await expectAnswers(latest);
    await expectAnswers(switched.accessToken);

    await send(api.url, LogoutDocument, {}, { token: latest });
    await expectRevoked(latest);
    expect((await send(api.url, LoginDocument, { input: { email: before.user.email, password: PASSWORD } })).data?.login.accessToken).toBeDefined();
  });
});
