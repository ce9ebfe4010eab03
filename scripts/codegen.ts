/**
 * `npm run codegen` writes schema/generated/ from the committed schema and operations;
 * `npm run codegen:check` exits 1 when the committed files differ from what it would write.
 *
 * GraphQL Code Generator's client preset, driven through @graphql-codegen/core. The CLI
 * (@graphql-codegen/cli) would load the same two local files, but it also installs loaders for URLs,
 * git and GitHub whose dependencies require Node 22, and we support Node 20 (see docs/clients.md).
 * The settings below are what a codegen.yml for the CLI would hold, key for key.
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { codegen } from "@graphql-codegen/core";
import { preset as clientPreset } from "@graphql-codegen/client-preset";
import { getCachedDocumentNodeFromSchema, type Types } from "@graphql-codegen/plugin-helpers";
import { buildASTSchema, lexicographicSortSchema, parse, print, Source } from "graphql";

const ROOT = resolve(__dirname, "../..");
const SCHEMA = "schema/schema.graphql";
const OPERATIONS = "schema/operations";
const OUTPUT = "schema/generated/";

const presetConfig = { fragmentMasking: false };
const config = {
  useTypeImports: true,
  enumsAsTypes: true,
  scalars: { DateTimeISO: "string" },
};

async function generate(): Promise<Map<string, string>> {
  const schemaAst = lexicographicSortSchema(buildASTSchema(parse(readFileSync(resolve(ROOT, SCHEMA), "utf8")), { assumeValidSDL: true }));
  const documents: Types.DocumentFile[] = readdirSync(resolve(ROOT, OPERATIONS))
    .filter((name) => name.endsWith(".graphql"))
    .map((name) => resolve(ROOT, OPERATIONS, name))
    .sort()
    .map((location) => {
      const document = parse(new Source(readFileSync(location, "utf8"), location));
      // As the CLI's loader does: the preset keys each document by its printed form, comments dropped.
      return { location, document, rawSDL: print(document) };
    });
  const outputs = await clientPreset.buildGeneratesSection({
    baseOutputDir: OUTPUT,
    presetConfig,
    plugins: [],
    pluginMap: {},
    schema: getCachedDocumentNodeFromSchema(schemaAst),
    schemaAst,
    documents,
    config: { ...config, emitLegacyCommonJSImports: true },
    documentTransforms: [],
  });
  const files = new Map<string, string>();
  for (const output of outputs) {
    files.set(output.filename, await codegen({ ...output, emitLegacyCommonJSImports: true }));
  }
  return files;
}

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  const files = await generate();
  const stale = [...files].filter(([filename, content]) => {
    try {
      return readFileSync(join(ROOT, filename), "utf8") !== content;
    } catch {
      return true;
    }
  });
  if (check) {
    for (const [filename] of stale) console.error(`${filename} is stale: run 'npm run codegen' and commit it`);
    process.exit(stale.length > 0 ? 1 : 0);
  }
  for (const [filename, content] of stale) {
    mkdirSync(resolve(ROOT, filename, ".."), { recursive: true });
    writeFileSync(join(ROOT, filename), content);
  }
  console.log(`${files.size} files in ${OUTPUT}: ${stale.length} rewritten`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
