// A relying party of this API's OAuth provider, in a process of its own, as an app would be
// (issue 28): openid-client 6 for discovery, the code + PKCE sign-in and introspection; jose alone
// for the back-channel logout token (OpenID Connect Back-Channel Logout 1.0 §2.6), against the
// provider's published JWKS. Configured by one JSON argument: { port, issuer, clientId, secret }.
//   GET  /login                 302 to the provider's authorization endpoint (state and verifier kept here)
//   GET  /callback              redeems the code, keeps the tokens under the ID token's sid; 200 { sub, sid }
//   POST /backchannel-logout    validates the logout_token, ends the sign-in with its sid; 200, or 400
//   GET  /state                 { signIns: [{ sub, sid, loggedOut }], logouts: [{ ok, claims?, error? }] }
//   GET  /introspect            { results: [{ sid, access, refresh }] }: each kept token introspected now
// Prints { listening: port } on stdout once it listens.
import { createServer } from "node:http";
import * as jose from "jose";
import * as client from "openid-client";

const options = JSON.parse(process.argv[2]);
const base = `http://127.0.0.1:${options.port}`;
const redirectUri = `${base}/callback`;
const EVENT = "http://schemas.openid.net/event/backchannel-logout";
const config = await client.discovery(new URL(options.issuer), options.clientId, undefined, client.ClientSecretBasic(options.secret), { execute: [client.allowInsecureRequests] });
const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
/** Sign-ins started, by state. */
const pending = new Map();
/** Sign-ins finished: { sub, sid, tokens, loggedOut }. */
const signIns = [];
const logouts = [];

async function logoutClaims(token) {
  const { payload } = await jose.jwtVerify(token, jwks, {
    issuer: options.issuer,
    audience: options.clientId,
    algorithms: ["ES256"],
    typ: "logout+jwt",
    requiredClaims: ["iat", "jti", "events", "sid"],
    maxTokenAge: "2 minutes",
  });
  if (typeof payload.events !== "object" || payload.events === null || !(EVENT in payload.events)) throw new Error("no back-channel logout event");
  if ("nonce" in payload) throw new Error("a logout token must not carry a nonce");
  return payload;
}

const json = (response, status, body) => response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));

async function handle(request, response, body) {
  const url = new URL(request.url, base);
  if (request.method === "GET" && url.pathname === "/login") {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    pending.set(state, verifier);
    const to = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: "openid email api", code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state });
    return response.writeHead(302, { location: to.href, "cache-control": "no-store" }).end();
  }
  if (request.method === "GET" && url.pathname === "/callback") {
    const state = url.searchParams.get("state");
    const verifier = pending.get(state);
    if (!verifier) return json(response, 400, { error: "unknown state" });
    pending.delete(state);
    const tokens = await client.authorizationCodeGrant(config, url, { pkceCodeVerifier: verifier, expectedState: state });
    const { sub, sid } = tokens.claims();
    signIns.push({ sub, sid, tokens, loggedOut: false });
    return json(response, 200, { sub, sid });
  }
  if (request.method === "POST" && url.pathname === "/backchannel-logout") {
    try {
      if (!(request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) throw new Error("not a form");
      const claims = await logoutClaims(new URLSearchParams(body).get("logout_token") ?? "");
      // §2.6: the sign-in is the one whose ID token carried this sid (and sub).
      for (const signIn of signIns) if (signIn.sid === claims.sid && signIn.sub === claims.sub) signIn.loggedOut = true;
      logouts.push({ ok: true, claims });
      return response.writeHead(200, { "cache-control": "no-store" }).end();
    } catch (error) {
      logouts.push({ ok: false, error: error.message });
      return response.writeHead(400, { "cache-control": "no-store" }).end();
    }
  }
  if (request.method === "GET" && url.pathname === "/state") {
    return json(response, 200, { signIns: signIns.map(({ sub, sid, loggedOut }) => ({ sub, sid, loggedOut })), logouts });
  }
  if (request.method === "GET" && url.pathname === "/introspect") {
    const results = [];
    for (const { sid, tokens } of signIns) {
      const access = (await client.tokenIntrospection(config, tokens.access_token)).active;
      const refresh = tokens.refresh_token ? (await client.tokenIntrospection(config, tokens.refresh_token)).active : null;
      results.push({ sid, access, refresh });
    }
    return json(response, 200, { results });
  }
  return json(response, 404, { error: "not found" });
}

const server = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => handle(request, response, body).catch((error) => json(response, 500, { error: error.message })));
});
server.listen(options.port, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ listening: options.port })}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
