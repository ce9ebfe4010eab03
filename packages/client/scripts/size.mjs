// Prints the gzip size of each entry point as a browser bundle: minified, with every dependency the
// entry pulls in except the framework it plugs into (urql, Apollo Client, rxjs), which the app ships
// anyway. Run with `npm run size -w @revocable-auth/client`; the figure goes into README.md.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const LIMIT = 15 * 1024;
const here = fileURLToPath(new URL("..", import.meta.url));
const entries = ["index", "urql", "apollo", "graphql-ws"];
const frameworks = ["@urql/*", "@apollo/client", "@apollo/client/*", "rxjs", "graphql", "graphql-ws"];

let failed = false;
for (const entry of entries) {
  const result = await build({
    entryPoints: [`${here}src/${entry}.ts`],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    external: frameworks,
    write: false,
  });
  const code = result.outputFiles[0].contents;
  const gzip = gzipSync(code, { level: 9 }).length;
  const over = entry === "index" && gzip > LIMIT;
  failed ||= over;
  console.log(`${entry.padEnd(10)} ${(code.length / 1024).toFixed(1).padStart(5)} KB minified, ${(gzip / 1024).toFixed(1).padStart(4)} KB gzip${over ? "  OVER THE 15 KB LIMIT" : ""}`);
}
process.exit(failed ? 1 : 0);
