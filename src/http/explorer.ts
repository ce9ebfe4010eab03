import { dirname } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import Negotiator from "negotiator";

/**
 * Scripts and styles may come from this origin only; fonts and icons also from data: URLs, which
 * is how GraphiQL's stylesheet embeds its fonts. The page may only call this API.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The media types a GraphQL client asks for; a request that prefers none of them over HTML is a browser's. */
const GRAPHQL_MEDIA_TYPES = ["application/json", "application/graphql-response+json", "multipart/mixed"];

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** Fixed paths to files of installed packages: the page loads nothing from another host, so it works offline. */
const PACKAGE_FILES: Record<string, [pkg: string, file: string, type: string]> = {
  "/explorer/react.js": ["react", "umd/react.production.min.js", JS],
  "/explorer/react-dom.js": ["react-dom", "umd/react-dom.production.min.js", JS],
  "/explorer/graphiql.js": ["graphiql", "graphiql.min.js", JS],
  "/explorer/graphiql.css": ["graphiql", "graphiql.min.css", CSS],
};

const DEFAULT_QUERY = `# 1. Log in (or register) with this mutation.
# 2. Open Headers below and set
#    {"Authorization": "Bearer <accessToken>"}
# 3. Run: query { me { email roles } }

mutation Login {
  login(input: {
    email: "you@example.com"
    password: "your password"
  }) {
    accessToken
  }
}
`;

// In a file of its own, not inline, so the policy needs no 'unsafe-inline' for scripts.
const MOUNT_SCRIPT = `"use strict";
const fetcher = GraphiQL.createFetcher({ url: location.pathname, enableIncrementalDelivery: false });
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: ${JSON.stringify(DEFAULT_QUERY)},
    // The editors and the history hold passwords and tokens (history keeps each run's headers):
    // keep them for this tab's life only, not in localStorage for whoever uses the browser next.
    storage: sessionStorage,
  }),
);
`;

const PAGE_STYLE = `html, body { height: 100%; margin: 0; }
#graphiql { height: 100vh; }
`;

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>GraphQL explorer</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/explorer/graphiql.css">
    <link rel="stylesheet" href="/explorer/explorer.css">
  </head>
  <body>
    <div id="graphiql"><noscript>The GraphQL explorer needs JavaScript.</noscript></div>
    <script src="/explorer/react.js"></script>
    <script src="/explorer/react-dom.js"></script>
    <script src="/explorer/graphiql.js"></script>
    <script src="/explorer/explorer.js"></script>
  </body>
</html>
`;

const OFF_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>GraphQL explorer is off</title>
    <link rel="icon" href="data:,">
  </head>
  <body>
    <h1>The GraphQL explorer is off</h1>
    <p>This is a GraphQL API: clients POST their operations to this URL.</p>
    <p>The explorer and introspection are off on this server, as they are by default when
      <code>NODE_ENV=production</code>. To turn them on, start the server with <code>EXPLORER=on</code>.</p>
  </body>
</html>
`;

/** A browser opening GET /graphql: the explorer when it is on, else a page that says how to turn it on. */
export function browserPage(explorerOn: boolean) {
  const page = explorerOn ? PAGE : OFF_PAGE;
  return (reply: FastifyReply): FastifyReply => noSniff(reply).header("content-security-policy", CONTENT_SECURITY_POLICY).type("text/html; charset=utf-8").send(page);
}

/** True when a request prefers HTML over every GraphQL media type: a person's browser, not a client. */
export function prefersHtml(request: FastifyRequest): boolean {
  return new Negotiator(request.raw).mediaType([...GRAPHQL_MEDIA_TYPES, "text/html"]) === "text/html";
}

/** The explorer's assets under /explorer, each a fixed file of an installed package (never a directory listing). */
export const explorerAssets: FastifyPluginCallback = (app, _options, done) => {
  const roots = Object.values(PACKAGE_FILES).map(([pkg]) => packageDir(pkg));
  app.register(fastifyStatic, { root: [...new Set(roots)], serve: false });
  for (const [path, [pkg, file, type]] of Object.entries(PACKAGE_FILES)) {
    const root = packageDir(pkg);
    app.get(path, (_request, reply) => noSniff(reply).type(type).sendFile(file, root, { contentType: false }));
  }
  app.get("/explorer/explorer.js", (_request, reply) => noSniff(reply).type(JS).send(MOUNT_SCRIPT));
  app.get("/explorer/explorer.css", (_request, reply) => noSniff(reply).type(CSS).send(PAGE_STYLE));
  done();
};

function packageDir(pkg: string): string {
  return dirname(require.resolve(`${pkg}/package.json`));
}

function noSniff(reply: FastifyReply): FastifyReply {
  return reply.header("x-content-type-options", "nosniff");
}
