import { dirname, join } from "node:path";
import { Router, type Request, type Response } from "express";

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

/** Fixed paths to files of installed packages: the page loads nothing from another host, so it works offline. */
const PACKAGE_FILES: Record<string, [pkg: string, file: string]> = {
  "/explorer/react.js": ["react", "umd/react.production.min.js"],
  "/explorer/react-dom.js": ["react-dom", "umd/react-dom.production.min.js"],
  "/explorer/graphiql.js": ["graphiql", "graphiql.min.js"],
  "/explorer/graphiql.css": ["graphiql", "graphiql.min.css"],
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

/** GraphiQL at GET /graphql for browsers, with its assets under /explorer; every other request passes on. */
export function explorer(): Router {
  const router = Router();
  router.get("/graphql", (req, res, next) => {
    if (!prefersHtml(req)) return next();
    noSniff(res).set("content-security-policy", CONTENT_SECURITY_POLICY).type("html").send(PAGE);
  });
  for (const [path, [pkg, file]] of Object.entries(PACKAGE_FILES)) {
    const absolute = join(dirname(require.resolve(`${pkg}/package.json`)), file);
    router.get(path, (_req, res) => noSniff(res).sendFile(absolute));
  }
  router.get("/explorer/explorer.js", (_req, res) => noSniff(res).type("js").send(MOUNT_SCRIPT));
  router.get("/explorer/explorer.css", (_req, res) => noSniff(res).type("css").send(PAGE_STYLE));
  return router;
}

function prefersHtml(req: Request): boolean {
  return req.accepts([...GRAPHQL_MEDIA_TYPES, "text/html"]) === "text/html";
}

function noSniff(res: Response): Response {
  return res.set("x-content-type-options", "nosniff");
}
