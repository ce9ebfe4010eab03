import { build } from "esbuild";
import { existsSync, readFileSync } from "node:fs";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { resolve } from "node:path";

/**
 * The example's tiny server: the page, its script (bundled with esbuild at start), and a dev proxy
 * that forwards /graphql, HTTP and WebSocket, to the API. The page and the API then share one
 * origin, which the API's refresh cookie (SameSite=Strict, Path=/graphql) needs, without the API
 * serving anything but its API. In production, put the page and the API behind one host name the
 * same way (a reverse proxy, or the CDN in front of both).
 */
export interface WebExampleOptions {
  /** The API's GraphQL endpoint, e.g. http://localhost:4000/graphql. */
  readonly apiUrl: string;
  readonly port?: number;
  readonly host?: string;
  /** Called with the body of each proxied GraphQL POST (the end-to-end test counts refreshes here). */
  readonly onGraphQLRequest?: (body: string) => void;
}

export interface WebExample {
  readonly url: string;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const CONTENT_SECURITY_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** Where app/ is, from the source (examples/web) or the build (examples/web/dist). */
function appFolder(): string {
  const here = resolve(__dirname, "app");
  return existsSync(here) ? here : resolve(__dirname, "../app");
}

/** The page's script with the client package bundled in, as a user's bundler would make it. */
async function bundleApp(app: string): Promise<string> {
  const result = await build({
    entryPoints: [resolve(app, "main.ts")],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    write: false,
    // In this repository the package runs from its source; an app would install it from npm.
    alias: { "@revocable-auth/client": resolve(app, "../../../packages/client/src/index.ts") },
  });
  return result.outputFiles[0]!.text;
}

export async function startWebExample(options: WebExampleOptions): Promise<WebExample> {
  const api = new URL(options.apiUrl);
  const app = appFolder();
  const files: Record<string, { type: string; body: string }> = {
    "/": { type: "text/html; charset=utf-8", body: readFileSync(resolve(app, "index.html"), "utf8") },
    "/style.css": { type: "text/css; charset=utf-8", body: readFileSync(resolve(app, "style.css"), "utf8") },
    "/app.js": { type: "text/javascript; charset=utf-8", body: await bundleApp(app) },
  };

  async function proxy(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return void res.writeHead(413).end();
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    if (req.method === "POST") options.onGraphQLRequest?.(body.toString("utf8"));
    // Host is passed on as the browser sent it: the API takes the origin a request was sent to as
    // its own, and would refuse the page's Origin (403 ORIGIN_NOT_ALLOWED) against a rewritten one.
    const upstream = request({ host: api.hostname, port: api.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.headersSent || res.writeHead(502).end());
    upstream.end(body);
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://page").pathname;
    if (path === "/graphql") return void proxy(req, res);
    const file = files[path === "/index.html" ? "/" : path];
    if (!file || req.method !== "GET") return void res.writeHead(404, { "content-type": "text/plain" }).end("Not found");
    res.writeHead(200, { "content-type": file.type, "content-security-policy": CONTENT_SECURITY_POLICY, "x-content-type-options": "nosniff", "cache-control": "no-cache" });
    res.end(file.body);
  });

  // A WebSocket upgrade on /graphql is passed through byte for byte: the request line and headers
  // (Host kept, as above), then both directions piped.
  server.on("upgrade", (req: IncomingMessage, socket, head: Buffer) => {
    if (new URL(req.url ?? "/", "http://page").pathname !== "/graphql") return void socket.destroy();
    const upstream = connect(Number(api.port || 80), api.hostname, () => {
      const headers = Object.entries(req.headers).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${name}: ${v}`));
      upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.on("error", close).on("close", close);
    socket.on("error", close).on("close", close);
  });

  await new Promise<void>((ready) => server.listen(options.port ?? 0, options.host ?? "localhost", ready));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}/`,
    stop: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

if (require.main === module) {
  const apiUrl = process.env.API_URL ?? "http://localhost:4000/graphql";
  startWebExample({ apiUrl, port: Number(process.env.PORT ?? 5173) }).then(
    (example) => console.log(`Web example on ${example.url} (API: ${apiUrl})`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
