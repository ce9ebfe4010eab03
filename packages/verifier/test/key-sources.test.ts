import { createPrivateKey, createPublicKey, type JsonWebKey } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import jwt from "jsonwebtoken";
import { Redis } from "ioredis";
import { newKey } from "../../../test/support/keys";
import { startRedis, type TestRedis } from "../../../test/support/redis";
import { createVerifier, RemoteKeys, type JsonWebKeySet, type VerifierOptions } from "../src";
import { keys as keyLayout } from "../src/internal";
import type { PrivateJwk } from "../../../src/auth/tokens/signing-keys";

/** A stand-in for the auth API's JWKS endpoint that counts its requests and serves what the test sets. */
interface JwksServer {
  readonly url: string;
  document: JsonWebKeySet | object | null;
  /** "hang": never answers; "huge": streams 100 MB of JSON without a length. */
  mode: "normal" | "hang" | "huge";
  /** Bytes of the huge answer written before the client stopped reading. */
  hugeBytesSent: number;
  requests: number;
  close(): Promise<void>;
}

async function jwksServer(): Promise<JwksServer> {
  const state = { document: null as JsonWebKeySet | object | null, requests: 0, mode: "normal" as JwksServer["mode"], hugeBytesSent: 0 };
  const server = http.createServer((_req, res) => {
    state.requests++;
    if (state.mode === "hang") return;
    if (state.mode === "huge") return void streamHuge(res, (bytes) => (state.hugeBytesSent = bytes));
    if (!state.document) return void res.writeHead(503).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(state.document));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

/** 100 MB of `{"keys":[...` padding, written as fast as the client reads it. */
function streamHuge(res: http.ServerResponse, report: (bytes: number) => void): void {
  const chunk = Buffer.alloc(64 * 1024, " ");
  let sent = 0;
  res.writeHead(200, { "content-type": "application/json" });
  res.write('{"keys":[');
  const pump = () => {
    while (sent < 100 * 1024 * 1024 && !res.destroyed) {
      sent += chunk.length;
      report(sent);
      if (!res.write(chunk)) return void res.once("drain", pump);
    }
    if (!res.destroyed) res.end("]}");
  };
  res.on("close", () => report(sent));
  pump();
}

const publicOf = (key: PrivateJwk): JsonWebKey => ({
  ...createPublicKey(createPrivateKey({ key, format: "jwk" })).export({ format: "jwk" }),
  kid: key.kid,
  alg: key.alg,
  use: "sig",
});

const ISSUER = "auth";
const AUDIENCE = "services";
let redis: TestRedis;
let reader: Redis;
let jwks: JwksServer;
let clock: number;

beforeAll(async () => {
  redis = await startRedis();
  reader = new Redis(redis.url);
});
beforeEach(async () => {
  jwks = await jwksServer();
  clock = Date.now();
});
afterEach(() => jwks.close());
afterAll(async () => {
  reader.disconnect();
  await redis.destroy();
});

const verifierFor = (options: Partial<VerifierOptions> = {}) =>
  createVerifier({ issuer: ISSUER, audience: AUDIENCE, redis: reader, now: () => clock, keys: { url: jwks.url, cooldownMs: 10_000, maxAgeMs: 300_000 }, ...options });

/** A live session written the way the auth API writes it, and an access token for it signed with `key`. */
async function tokenFor(key: PrivateJwk, kid = key.kid, lifetimeSeconds = 900): Promise<string> {
  const userId = `u-${Math.random().toString(36).slice(2)}`;
  const sessionId = `s-${Math.random().toString(36).slice(2)}`;
  await redis.client.set(keyLayout.user(userId), JSON.stringify({ id: userId, email: `${userId}@example.com`, roles: ["USER"], createdAt: 1, disabled: false }));
  await redis.client.set(keyLayout.session(userId, sessionId), JSON.stringify({ id: sessionId, userId, createdAt: 2 }));
  const iat = Math.floor(clock / 1000);
  const claims = { sub: userId, sid: sessionId, jti: `j-${sessionId}`, roles: ["USER"], aal: "aal1", amr: ["pwd"], iat, exp: iat + lifetimeSeconds, iss: ISSUER, aud: AUDIENCE };
  return jwt.sign(claims, createPrivateKey({ key, format: "jwk" }), { algorithm: key.alg, header: { alg: key.alg, typ: "at+jwt", kid } });
}

describe("keys fetched from the auth API's JWKS", () => {
  it("are fetched once and cached: many verifications, one request", async () => {
    const key = newKey();
    jwks.document = { keys: [publicOf(key)] };
    const verifier = verifierFor();
    for (let i = 0; i < 10; i++) expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
    expect(jwks.requests).toBe(1);
  });

  it("are fetched again when a token names a kid not yet seen, so a newly published key works at once", async () => {
    const [first, next] = [newKey(), newKey()];
    jwks.document = { keys: [publicOf(first)] };
    const verifier = verifierFor();
    expect((await verifier.verify(await tokenFor(first))).ok).toBe(true);
    jwks.document = { keys: [publicOf(first), publicOf(next)] };
    clock += 10_000;
    expect((await verifier.verify(await tokenFor(next))).ok).toBe(true);
    expect(jwks.requests).toBe(2);
  });

  it("fetch at most once per cooldown, however many unknown kids arrive at once or in a row", async () => {
    const key = newKey();
    jwks.document = { keys: [publicOf(key)] };
    const verifier = verifierFor();
    const forged = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenFor(key, `made-up-${i}`)));
    const outcomes = await Promise.all(forged.map((token) => verifier.verify(token)));
    for (const token of forged) outcomes.push(await verifier.verify(token));
    expect(outcomes.every((outcome) => !outcome.ok && outcome.reason === "INVALID_TOKEN")).toBe(true);
    expect(jwks.requests).toBe(1);
    clock += 10_000;
    await verifier.verify(forged[0]!);
    await (verifier.keys as RemoteKeys).settled();
    expect(jwks.requests).toBe(2);
  });

  it("are fetched again after max-age, so a key removed from the set stops verifying", async () => {
    const [old, current] = [newKey(), newKey()];
    jwks.document = { keys: [publicOf(old), publicOf(current)] };
    const verifier = verifierFor();
    const oldToken = await tokenFor(old);
    expect((await verifier.verify(oldToken)).ok).toBe(true);
    jwks.document = { keys: [publicOf(current)] };
    clock += 300_001;
    await verifier.verify(await tokenFor(current));
    await (verifier.keys as RemoteKeys).settled();
    expect(await verifier.verify(await tokenFor(old))).toMatchObject({ ok: false, reason: "INVALID_TOKEN" });
    expect((await verifier.verify(await tokenFor(current))).ok).toBe(true);
  });

  it("keep the set they have while the auth API cannot be reached", async () => {
    const key = newKey();
    jwks.document = { keys: [publicOf(key)] };
    const verifier = verifierFor();
    expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
    jwks.document = null;
    clock += 300_001;
    expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
    await (verifier.keys as RemoteKeys).settled();
    expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
    expect(jwks.requests).toBe(2);
  });

  it("answer 503 KEYS_UNAVAILABLE while no set could be fetched yet, and recover after the cooldown", async () => {
    const key = newKey();
    const verifier = verifierFor();
    expect(await verifier.verify(await tokenFor(key))).toMatchObject({ ok: false, code: "SERVICE_UNAVAILABLE", reason: "KEYS_UNAVAILABLE", status: 503 });
    jwks.document = { keys: [publicOf(key)] };
    clock += 10_000;
    expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
  });
});

describe("a JWKS endpoint that misbehaves", () => {
  it.each([[{}], [{ keys: [] }], [{ keys: [{ kty: "oct", k: "c2VjcmV0", kid: "x", alg: "HS256" }] }]])(
    "never replaces a usable set with one that has no usable key (%j): the held set stays, and the reason is told",
    async (document) => {
      const key = newKey();
      jwks.document = { keys: [publicOf(key)] };
      const refused: string[] = [];
      const verifier = verifierFor({ keys: { url: jwks.url, onRefused: (reason) => refused.push(reason) } });
      expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
      jwks.document = document;
      clock += 300_001;
      expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
      await (verifier.keys as RemoteKeys).settled();
      expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
      expect(refused).toEqual(["the JWKS holds no usable key; kept the key set held"]);
    },
  );

  it("that hangs does not stall requests once a set is held: the refresh runs in the background", async () => {
    const key = newKey();
    jwks.document = { keys: [publicOf(key)] };
    const verifier = verifierFor({ keys: { url: jwks.url, timeoutMs: 3000 } });
    expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
    jwks.mode = "hang";
    clock += 300_001;
    const token = await tokenFor(key);
    const started = Date.now();
    expect((await verifier.verify(token)).ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    for (let waited = 0; jwks.requests < 2 && waited < 2000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(jwks.requests).toBe(2);
  });

  it("that answers 100 MB is read only up to the 64 KB limit, and the held set stays", async () => {
    const key = newKey();
    jwks.document = { keys: [publicOf(key)] };
    const refused: string[] = [];
    const verifier = verifierFor({ keys: { url: jwks.url, onRefused: (reason) => refused.push(reason) } });
    expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
    jwks.mode = "huge";
    clock += 300_001;
    await verifier.verify(await tokenFor(key));
    await (verifier.keys as RemoteKeys).settled();
    expect(refused).toEqual([`the JWKS document is larger than ${64 * 1024} bytes; kept the key set held`]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(jwks.hugeBytesSent).toBeLessThan(16 * 1024 * 1024);
    expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
  });
});

describe("token lifetime", () => {
  it("is bounded to 24 hours by default: a key holder's 10-year token is refused", async () => {
    const key = newKey();
    jwks.document = { keys: [publicOf(key)] };
    const verifier = verifierFor();
    expect((await verifier.verify(await tokenFor(key, key.kid, 24 * 3600))).ok).toBe(true);
    expect(await verifier.verify(await tokenFor(key, key.kid, 10 * 365 * 24 * 3600))).toMatchObject({ ok: false, reason: "INVALID_TOKEN" });
  });

  it("is bounded by the ACCESS_TOKEN_TTL the auth API publishes in its JWKS, or a lower one configured", async () => {
    const key = newKey();
    jwks.document = { keys: [publicOf(key)], access_token_ttl: 900 };
    const verifier = verifierFor();
    expect((await verifier.verify(await tokenFor(key, key.kid, 900))).ok).toBe(true);
    expect(await verifier.verify(await tokenFor(key, key.kid, 3600))).toMatchObject({ ok: false, reason: "INVALID_TOKEN" });
    const stricter = verifierFor({ accessTokenTtl: 300 });
    expect(await stricter.verify(await tokenFor(key, key.kid, 900))).toMatchObject({ ok: false, reason: "INVALID_TOKEN" });
  });
});

describe("keys given directly", () => {
  it("verify without any request to the auth API", async () => {
    const key = newKey("RS256");
    const verifier = verifierFor({ keys: { jwks: { keys: [publicOf(key)] } } });
    expect((await verifier.verify(await tokenFor(key))).ok).toBe(true);
    expect(jwks.requests).toBe(0);
  });

  it("never use a private or symmetric key, a key without kid or alg, or one whose type does not fit its alg", async () => {
    const key = newKey();
    const rsa = newKey("RS256");
    const unusable = [
      { ...key },
      { ...publicOf(key), alg: undefined },
      { ...publicOf(rsa), kid: key.kid, alg: "ES256" },
      { ...publicOf(key), use: "enc" },
      { kty: "oct", k: Buffer.from("x".repeat(32)).toString("base64url"), kid: key.kid, alg: "HS256" },
    ];
    for (const jwk of unusable) {
      const verifier = verifierFor({ keys: { jwks: { keys: [jwk as JsonWebKey] } } });
      expect(await verifier.verify(await tokenFor(key))).toMatchObject({ ok: false, reason: "INVALID_TOKEN" });
    }
  });
});
