// A relying party's back-channel logout receiver, in a process of its own (OpenID Connect
// Back-Channel Logout 1.0 §2.6): POST <any path> with a form `logout_token`, validated with jose
// alone against the provider's published JWKS (pinned algorithms, typ logout+jwt, iss, aud = the
// client the path names, iat, jti, the event, sub or sid, and no nonce). Configured by one JSON
// argument: { port, issuer, jwksUri, clients: { "/path": "client_id" }, status? }.
// Each request is one line on stdout: { path, clientId, ok, at, header, claims } or { ok: false, error }.
import { createServer } from "node:http";
import * as jose from "jose";

const options = JSON.parse(process.argv[2]);
const jwks = jose.createRemoteJWKSet(new URL(options.jwksUri));
const EVENT = "http://schemas.openid.net/event/backchannel-logout";

async function validate(token, clientId) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
    issuer: options.issuer,
    audience: clientId,
    algorithms: ["ES256", "RS256"],
    typ: "logout+jwt",
    requiredClaims: ["iat", "jti", "events"],
    maxTokenAge: "2 minutes",
  });
  if (typeof payload.events !== "object" || payload.events === null || !(EVENT in payload.events)) throw new Error("no back-channel logout event");
  if ("nonce" in payload) throw new Error("a logout token must not carry a nonce");
  if (payload.sub === undefined && payload.sid === undefined) throw new Error("neither sub nor sid");
  return { header: protectedHeader, claims: payload };
}

const server = createServer((request, response) => {
  const at = Date.now();
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", async () => {
    const path = new URL(request.url, "http://rp").pathname;
    const clientId = options.clients[path];
    const type = request.headers["content-type"] ?? "";
    const token = new URLSearchParams(body).get("logout_token");
    let line;
    try {
      if (request.method !== "POST" || !type.startsWith("application/x-www-form-urlencoded") || !token || !clientId) throw new Error(`not a logout request: ${request.method} ${path} ${type}`);
      line = { path, clientId, ok: true, at, token, ...(await validate(token, clientId)) };
    } catch (error) {
      line = { path, clientId, ok: false, at, error: error.message };
    }
    process.stdout.write(`${JSON.stringify(line)}\n`);
    response.writeHead(line.ok ? options.status ?? 200 : 400, { "cache-control": "no-store" }).end();
  });
});
server.listen(options.port, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ listening: options.port })}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
