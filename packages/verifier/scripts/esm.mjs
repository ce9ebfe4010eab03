// The ES module entry points, after tsc has built the CommonJS ones in dist/: dist/esm/<entry>.js
// re-exports the CommonJS build's names. One implementation, loaded once: a process whose ESM code
// imports the verifier while its CommonJS code requires it gets one copy of each class and cache
// (Node's "ES module wrapper", which avoids the dual-package hazard), and the names are read from
// the build itself, so the wrapper cannot miss an export.
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));
const require = createRequire(dist);
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

mkdirSync(`${dist}esm`, { recursive: true });
writeFileSync(`${dist}esm/package.json`, `${JSON.stringify({ type: "module" }, null, 2)}\n`);
for (const entry of ["index", "internal"]) {
  const names = Object.keys(require(`./${entry}.js`)).filter((name) => IDENTIFIER.test(name) && name !== "default");
  writeFileSync(`${dist}esm/${entry}.js`, `import cjs from "../${entry}.js";\nexport const { ${names.join(", ")} } = cjs;\n`);
  writeFileSync(`${dist}esm/${entry}.d.ts`, `export * from "../${entry}.js";\n`);
}
