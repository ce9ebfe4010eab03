// openid-client, oauth4webapi and jose are ESM-only. The API loads them with Node's require(esm);
// Jest's own module system has no require(esm), so esbuild compiles them to CommonJS for the tests.
const { transformSync } = require("esbuild");

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, { loader: "js", format: "cjs", target: "node22", sourcemap: "external", sourcefile: filename });
    return { code, map };
  },
};
