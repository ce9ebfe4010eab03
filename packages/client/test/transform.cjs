// Jest runs CommonJS; this package is ESM. esbuild (already the package's bundler) compiles its
// TypeScript to CommonJS for the tests. ts-jest cannot do it here: it keeps one configuration per
// Jest project, and the project's is the CommonJS one of the API. Type-checking is `npm run typecheck`.
const { transformSync } = require("esbuild");

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, { loader: "ts", format: "cjs", target: "node20", sourcemap: "external", sourcefile: filename });
    return { code, map };
  },
};
