import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { startApi, TEST_AUDIENCE, TEST_ISSUER, type TestApi } from "../support/api";
import { register } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

/**
 * @revocable-auth/client and @revocable-auth/verifier as an adopter gets them: `npm pack` (which
 * builds each), the tarballs installed into a project outside the repository, and used there from
 * ES modules, CommonJS and TypeScript, against a running API. Nothing here resolves through the
 * workspace: the scratch project sees only what the tarballs hold.
 */
const ROOT = resolve(__dirname, "../..");
const run = promisify(execFile);
/** The repository's own copies, so npm finds them in its cache (--prefer-offline). */
const versionOf = (name: string) => (JSON.parse(readFileSync(resolve(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

interface Packed {
  readonly filename: string;
  readonly files: readonly { path: string }[];
}

async function pack(folder: string, destination: string): Promise<Packed> {
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", destination], { cwd: resolve(ROOT, "packages", folder), env: process.env });
  // prepack's build prints before the JSON.
  return (JSON.parse(stdout.slice(stdout.indexOf("[\n"))) as Packed[])[0]!;
}

/** An app's sign-in, in an ES module: the client's root entry, its integrations, and the verifier's ESM entry. */
const SIGN_IN_MJS = `
import { createRequire } from "node:module";
import { createAuthClient, AuthClientError } from "@revocable-auth/client";
import { urqlAuth } from "@revocable-auth/client/urql";
import { graphqlWsOptions } from "@revocable-auth/client/graphql-ws";
import { createVerifier } from "@revocable-auth/verifier";
import { keys } from "@revocable-auth/verifier/internal";

const [url, email, password, service] = process.argv.slice(2);
// Its peer (@apollo/client) is not installed here: that entry is only resolved.
const apollo = import.meta.resolve("@revocable-auth/client/apollo");
// One copy of the verifier whether imported or required: no dual-package hazard.
const sameVerifier = createRequire(import.meta.url)("@revocable-auth/verifier").createVerifier === createVerifier;
const auth = createAuthClient({ url, liveUrl: null });
const user = await auth.signIn({ email, password });
const token = await auth.getAccessToken();
// The tokens are DPoP-bound (the API offers DPoP): a call to another service carries a proof for it.
const headers = await auth.authorize(service, "GET");
auth.close();
console.log(JSON.stringify({
  user, token, headers, sameVerifier, apollo: apollo.endsWith("/dist/apollo.js"),
  kinds: [typeof urqlAuth, typeof graphqlWsOptions, typeof AuthClientError, typeof keys.user],
}));
`;

/** A CommonJS service: verifies the app's token against the API's JWKS and Redis. */
const VERIFY_CJS = `
const { createVerifier } = require("@revocable-auth/verifier");
const { ROLES } = require("@revocable-auth/verifier/internal");
const { createAuthClient } = require("@revocable-auth/client");
const { Redis } = require("ioredis");

const [jwks, redisUrl, issuer, audience, token, proof, service] = process.argv.slice(2);
const redis = new Redis(redisUrl, { maxRetriesPerRequest: 0 });
const verifier = createVerifier({ issuer, audience, keys: { url: jwks }, redis });
(async () => {
  const outcome = await verifier.verify(token, { scheme: "DPoP", proof, method: "GET", url: service });
  // The same token copied without its proof, as a bearer token.
  const copied = await verifier.verify(token);
  console.log(JSON.stringify({ ok: outcome.ok, userId: outcome.ok ? outcome.identity.userId : outcome.reason, roles: ROLES, client: typeof createAuthClient, copied: copied.ok ? "accepted" : copied.reason }));
  redis.disconnect();
})();
`;

/** What an adopter's TypeScript sees, from an ES module and from CommonJS. */
const CONSUMER_TS = `
import { createAuthClient, AuthClientError, type AuthClient, type AuthState, type User } from "@revocable-auth/client";
import { graphqlWsOptions } from "@revocable-auth/client/graphql-ws";
import { createVerifier, type Outcome, type Verifier } from "@revocable-auth/verifier";

export async function signIn(url: string): Promise<User> {
  const auth: AuthClient = createAuthClient({ url, refreshToken: "memory", liveUrl: null });
  const status: AuthState["status"] = auth.state.status;
  void status;
  void graphqlWsOptions(auth).connectionParams;
  try {
    return await auth.signIn({ email: "ann@example.com", password: "correct horse battery staple" });
  } catch (error) {
    if (error instanceof AuthClientError) throw new Error(error.reason);
    throw error;
  }
}

export const check = (verifier: Verifier, token: string): Promise<Outcome> => verifier.verify(token);
export { createVerifier };
`;
const SERVICE_CTS = `
import { createVerifier, StaticKeys, type Outcome, type VerifierOptions } from "@revocable-auth/verifier";
import { keys } from "@revocable-auth/verifier/internal";

export function verifierFor(options: VerifierOptions): (token: string) => Promise<Outcome> {
  const verifier = createVerifier(options);
  return (token) => verifier.verify(token);
}
export const keyOfUser: string = keys.user("u1");
export { StaticKeys };
`;

describe("the packages, installed from their tarballs", () => {
  let scratch: string;
  let redis: TestRedis;
  let api: TestApi;
  let packed: Record<"client" | "verifier", Packed>;
  /** The adopter's tsc, started as soon as the packages are installed: it is the slowest step. */
  let typeCheck: Promise<string>;

  // Each step starts as soon as what it needs is there: the two builds and Redis at once, then the
  // install beside the API's start, then the type check beside the sign-in.
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "packages-install-"));
    const [client, verifier, redisServer] = await Promise.all([pack("client", scratch), pack("verifier", scratch), startRedis()]);
    packed = { client, verifier };
    redis = redisServer;
    writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "adopter", version: "1.0.0", private: true, type: "module" }));
    const install = run(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", join(scratch, client.filename), join(scratch, verifier.filename), `ioredis@${versionOf("ioredis")}`, `@types/node@${versionOf("@types/node")}`],
      { cwd: scratch, env: process.env },
    );
    // ES256: the verifier checks with the published public keys, as a service elsewhere would.
    [api] = await Promise.all([startApi(redis.url, { JWT_ALGORITHM: "ES256" }), install]);
    typeCheck = checkTypes(scratch);
    typeCheck.catch(() => undefined);
  }, 120_000);

  afterAll(async () => {
    await typeCheck?.catch(() => undefined);
    await api?.stop();
    await redis?.destroy();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("hold the built files, declarations, README and CHANGELOG; no sources, source maps or build info", () => {
    for (const [name, { files }] of Object.entries(packed)) {
      const paths = files.map((file) => file.path);
      expect({ name, paths }).toEqual({ name, paths: expect.arrayContaining(["package.json", "README.md", "CHANGELOG.md", "dist/index.js", "dist/index.d.ts"]) });
      expect({ name, stray: paths.filter((path) => /^src\/|\.map$|tsbuildinfo|\.test\./.test(path)) }).toEqual({ name, stray: [] });
    }
    expect(packed.client.files.map((file) => file.path)).toEqual(expect.arrayContaining(["dist/urql.js", "dist/apollo.js", "dist/graphql-ws.js"]));
    expect(packed.verifier.files.map((file) => file.path)).toEqual(expect.arrayContaining(["dist/internal.js", "dist/esm/index.js", "dist/esm/internal.js", "dist/esm/package.json"]));
  });

  it("sign in from an ES module, and the token verifies in a CommonJS service against the API's keys and Redis", async () => {
    const user = await register(api.url);
    writeFileSync(join(scratch, "sign-in.mjs"), SIGN_IN_MJS);
    writeFileSync(join(scratch, "verify.cjs"), VERIFY_CJS);
    const service = "http://notes.localhost/notes";
    const signedIn = JSON.parse((await run(process.execPath, ["sign-in.mjs", api.url, user.user.email, "correct horse battery staple", service], { cwd: scratch })).stdout) as {
      user: { id: string; email: string };
      token: string;
      headers: { authorization: string; dpop: string };
      sameVerifier: boolean;
      apollo: boolean;
      kinds: string[];
    };
    expect(signedIn).toMatchObject({ user: { id: user.user.id, email: user.user.email }, token: expect.stringMatching(/^eyJ/), sameVerifier: true, apollo: true });
    expect(signedIn.kinds).toEqual(["function", "function", "function", "function"]);

    const jwks = api.url.replace(/\/graphql$/, "/.well-known/jwks.json");
    expect(signedIn.headers.authorization).toBe(`DPoP ${signedIn.token}`);
    const verifying = [jwks, redis.url, TEST_ISSUER, TEST_AUDIENCE, signedIn.token, signedIn.headers.dpop, service];
    const { copied, ...verified } = JSON.parse((await run(process.execPath, ["verify.cjs", ...verifying], { cwd: scratch })).stdout) as Record<string, unknown>;
    expect(verified).toEqual({ ok: true, userId: user.user.id, roles: expect.arrayContaining(["USER"]), client: "function" });
    expect(copied).toBe("DPOP_PROOF_REQUIRED");
  });

  it("type-check in an adopter's TypeScript project, from ES modules and CommonJS, declarations included", async () => {
    expect(await typeCheck).toBe("");
  });
});

/** tsc over consumer.ts (an ES module) and service.cts (CommonJS), libraries' declarations checked too; answers its errors. */
async function checkTypes(scratch: string): Promise<string> {
  writeFileSync(join(scratch, "consumer.ts"), CONSUMER_TS);
  writeFileSync(join(scratch, "service.cts"), SERVICE_CTS);
  const compilerOptions = { target: "ES2022", module: "node16", moduleResolution: "node16", strict: true, noEmit: true, types: ["node"], skipLibCheck: false };
  writeFileSync(join(scratch, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["consumer.ts", "service.cts"] }));
  const tsc = resolve(ROOT, "node_modules/typescript/bin/tsc");
  const result = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: scratch }).catch((error: { stdout: string }) => error);
  return result.stdout;
}
