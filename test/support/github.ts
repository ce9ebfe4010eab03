import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A small loopback server with GitHub's shape, following GitHub's documented OAuth App endpoints
 * and answers (docs.github.com: "Authorizing OAuth apps", "REST API: users", "emails"): it is not
 * GitHub, which cannot be reached from the tests. The authorize step approves at once for the
 * user the test chose; the token step checks the client, the code and the PKCE verifier.
 */
export interface GitHubUser {
  readonly id: number;
  readonly login: string;
  readonly emails: readonly { email: string; primary: boolean; verified: boolean }[];
}

export interface TestGitHub {
  readonly url: string;
  /** The user the next authorization approves. */
  signInAs(user: GitHubUser): void;
  stop(): Promise<void>;
}

export async function startGitHub(client: { id: string; secret: string }): Promise<TestGitHub> {
  let next: GitHubUser | null = null;
  const codes = new Map<string, { user: GitHubUser; challenge: string; redirectUri: string }>();
  const tokens = new Map<string, GitHubUser>();
  const body = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString());
  };
  const server = createServer(async (request, response) => {
    const url = new URL(request.url!, "http://github.invalid");
    const json = (status: number, value: unknown) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (url.pathname === "/login/oauth/authorize") {
      const q = url.searchParams;
      if (q.get("client_id") !== client.id || !next || q.get("code_challenge_method") !== "S256") return json(400, { error: "bad_request" });
      const code = randomBytes(10).toString("hex");
      codes.set(code, { user: next, challenge: q.get("code_challenge")!, redirectUri: q.get("redirect_uri")! });
      const back = new URL(q.get("redirect_uri")!);
      back.searchParams.set("code", code);
      back.searchParams.set("state", q.get("state")!);
      return response.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === "/login/oauth/access_token" && request.method === "POST") {
      const form = await body(request);
      const grant = codes.get(form.get("code") ?? "");
      codes.delete(form.get("code") ?? "");
      const verifier = form.get("code_verifier") ?? "";
      const pkce = createHash("sha256").update(verifier).digest("base64url");
      if (form.get("client_id") !== client.id || form.get("client_secret") !== client.secret || !grant || grant.challenge !== pkce || grant.redirectUri !== form.get("redirect_uri")) {
        // GitHub answers a bad code with 200 and an error body.
        return json(200, { error: "bad_verification_code", error_description: "The code passed is incorrect or expired." });
      }
      const token = `gho_${randomBytes(16).toString("hex")}`;
      tokens.set(token, grant.user);
      return json(200, { access_token: token, token_type: "bearer", scope: "read:user,user:email" });
    }
    const user = tokens.get((request.headers.authorization ?? "").replace(/^(Bearer|token) /i, ""));
    if (!user) return json(401, { message: "Bad credentials" });
    if (url.pathname === "/user") return json(200, { id: user.id, login: user.login, email: null });
    if (url.pathname === "/user/emails") return json(200, user.emails.map((entry) => ({ ...entry, visibility: entry.primary ? "private" : null })));
    return json(404, { message: "Not Found" });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const url = `http://localhost:${(server.address() as AddressInfo).port}`;
  return {
    url,
    signInAs: (user) => void (next = user),
    stop: () => new Promise<void>((done) => server.close(() => done())),
  };
}
