// Prints the gzip size of each entry point as a browser bundle: minified, with every dependency the
// entry pulls in except the framework it plugs into (urql, Apollo Client, rxjs), which the app ships
// anyway. Measured on the built files, as npm installs them: the package's own build (tsc with its
// tsconfig.json) into a temporary folder, so a build in dist/ is neither needed nor disturbed.
// Run with `npm run size -w @revocable-auth/client`; the figure goes into README.md.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const LIMIT = 15 * 1024;
const here = fileURLToPath(new URL("..", import.meta.url));
const entries = ["index", "urql", "apollo", "graphql-ws"];
const frameworks = ["@urql/*", "@apollo/client", "@apollo/client/*", "rxjs", "graphql", "graphql-ws"];

const built = mkdtempSync(join(tmpdir(), "client-size-"));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", `${here}tsconfig.json`, "--outDir", built, "--declaration", "false", "--sourceMap", "false"], { stdio: "inherit" });

let failed = false;
for (const entry of entries) {
  const result = await build({
    entryPoints: [join(built, `${entry}.js`)],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    external: frameworks,
    // The build sits in a temporary folder: its dependencies (dpop, @simplewebauthn/browser) resolve from here.
    nodePaths: [join(here, "node_modules"), join(here, "../../node_modules")],
    write: false,
  });
  const code = result.outputFiles[0].contents;
  const gzip = gzipSync(code, { level: 9 }).length;
  const over = entry === "index" && gzip > LIMIT;
  failed ||= over;
  console.log(`${entry.padEnd(10)} ${(code.length / 1024).toFixed(1).padStart(5)} KB minified, ${(gzip / 1024).toFixed(1).padStart(4)} KB gzip${over ? "  OVER THE 15 KB LIMIT" : ""}`);
}
rmSync(built, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
