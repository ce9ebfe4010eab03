// A real OpenID Provider for the tests: panva's oidc-provider (ESM, so it runs in a process of its
// own, outside Jest) on a loopback port. Configured by one JSON argument:
//   { clients: [...], accounts: { <login>: { email, email_verified } }, backchannelLogout: bool,
//     port?: number (the issuer's port; a free one when absent), path?: string (the issuer's path, as "/tenant/v2.0/") }
// Its login form is oidc-provider's development interaction (any password); consent is granted.
//
// In front of it sits a small pass-through on the issuer's port, which adds what attacker tests need
// and a real provider never does: POST /__test/tamper { claims, alg } makes the next token response
// carry an ID token with those claims changed, re-signed with the provider's own key (so the only
// thing wrong is what the test changed), and POST /__test/logout-token mints a logout token.
import { createServer } from "node:http";
import Provider from "oidc-provider";
import * as jose from "jose";

const options = JSON.parse(process.argv[2] ?? "{}");
const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
const privateJwk = { ...(await jose.exportJWK(privateKey)), kid: "test-key", alg: "RS256", use: "sig" };

const front = createServer();
await new Promise((resolve) => front.listen(options.port ?? 0, "127.0.0.1", resolve));
const issuer = `http://localhost:${front.address().port}${options.path ?? ""}`;
// An issuer with a path is served below it, as a provider mounted there: oidc-provider's routes see the
// rest of the path, and its URLs (discovery's endpoints) carry the mount point, from `originalUrl`.
const mount = new URL(issuer).pathname.replace(/\/$/, "");

const provider = new Provider(issuer, {
  clients: options.clients,
  jwks: { keys: [privateJwk] },
  async findAccount(_ctx, id) {
    const account = options.accounts[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...account }) };
  },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: options.backchannelLogout === true }, rpInitiatedLogout: { enabled: true } },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid email profile");
    await grant.save();
    return grant;
  },
  pkce: { required: () => true },
  cookies: { keys: ["test-cookie-key"] },
  // oidc-provider refuses outgoing requests to special-use addresses (SSRF protection); the API under
  // test, which receives the back-channel logout, is on loopback, so this test provider lifts it.
  fetch: (url, init) => fetch(url, { ...init, dispatcher: undefined }),
});
// Behind the pass-through: the issuer's host comes in X-Forwarded-Host, so every endpoint URL is the issuer's.
provider.proxy = true;
provider.on("backchannel.error", (_ctx, error) => process.stderr.write(`test provider: back-channel logout failed: ${error.message} ${error.cause?.message ?? ""} ${error.cause?.code ?? ""}\n`));
const handle = provider.callback();
const inner = createServer((request, response) => {
  if (mount !== "" && request.url.startsWith(`${mount}/`)) {
    request.originalUrl = request.url;
    request.url = request.url.slice(mount.length);
  }
  handle(request, response);
});
await new Promise((resolve) => inner.listen(0, "127.0.0.1", resolve));
const innerUrl = `http://127.0.0.1:${inner.address().port}`;

let tamper = null;

async function body(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function resign(idToken, change) {
  const claims = { ...jose.decodeJwt(idToken), ...change.claims };
  const alg = change.alg ?? "RS256";
  return new jose.SignJWT(claims).setProtectedHeader({ alg, kid: "test-key" }).sign(privateKey);
}

front.on("request", async (request, response) => {
  try {
    const payload = await body(request);
    if (request.url === "/__test/tamper") {
      tamper = JSON.parse(payload.toString());
      return response.writeHead(204).end();
    }
    if (request.url === "/__test/logout-token") {
      const { claims, header } = JSON.parse(payload.toString());
      const token = await new jose.SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "test-key", typ: "logout+jwt", ...header }).sign(privateKey);
      return response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token }));
    }
    const headers = { ...request.headers };
    delete headers["content-length"];
    headers["x-forwarded-host"] = request.headers.host;
    headers["x-forwarded-proto"] = "http";
    const upstream = await fetch(innerUrl + request.url, { method: request.method, headers, body: payload.length > 0 ? payload : undefined, redirect: "manual" });
    let answer = Buffer.from(await upstream.arrayBuffer());
    if (tamper && request.url.startsWith("/token") && upstream.ok) {
      const json = JSON.parse(answer.toString());
      json.id_token = await resign(json.id_token, tamper);
      tamper = null;
      answer = Buffer.from(JSON.stringify(json));
    }
    const out = {};
    upstream.headers.forEach((value, name) => {
      if (name !== "set-cookie" && name !== "content-length" && name !== "content-encoding" && name !== "transfer-encoding") out[name] = value;
    });
    const cookies = upstream.headers.getSetCookie();
    if (cookies.length > 0) out["set-cookie"] = cookies;
    response.writeHead(upstream.status, out).end(answer);
  } catch (error) {
    response.writeHead(500).end(String(error));
  }
});

process.stdout.write(JSON.stringify({ issuer }) + "\n");
process.on("SIGTERM", () => process.exit(0));
