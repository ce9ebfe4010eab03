/**
 * `npm run codegen` writes schema/generated/ from the committed schema and operations;
 * `npm run codegen:check` exits 1 when the committed files differ from what it would write.
 *
 * GraphQL Code Generator's client preset, driven through @graphql-codegen/core. The CLI
 * (@graphql-codegen/cli) would load the same two local files, but it also installs loaders for URLs,
 * git and GitHub that a check of two local files does not need (see docs/clients.md).
 *
 * Node runs this file as it is (type stripping): it imports nothing from src/, so the check needs no
 * build, and CI starts it beside the tests.
 * The settings come from codegen.yml, in the CLI's own format, so frontends can copy that file.
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { codegen } from "@graphql-codegen/core";
import { preset as clientPreset } from "@graphql-codegen/client-preset";
import { getCachedDocumentNodeFromSchema, type Types } from "@graphql-codegen/plugin-helpers";
import { buildASTSchema, lexicographicSortSchema, parse, print, Source } from "graphql";
import { parse as parseYaml } from "yaml";

const ROOT = resolve(import.meta.dirname, "..");

interface CodegenFile {
  readonly schema: string;
  readonly documents: string;
  readonly generates: Record<string, { preset: string; presetConfig?: Record<string, unknown>; config?: Record<string, unknown> }>;
}

/** codegen.yml, held to the one shape this script supports: one schema file, one folder of operations, one client-preset output. */
function readSettings() {
  const file = parseYaml(readFileSync(resolve(ROOT, "codegen.yml"), "utf8")) as CodegenFile;
  const outputs = Object.entries(file.generates ?? {});
  const documents = /^(.+)\/\*\.graphql$/.exec(file.documents ?? "");
  if (typeof file.schema !== "string" || !documents || outputs.length !== 1 || outputs[0]![1].preset !== "client") {
    throw new Error("codegen.yml: expected one schema file, documents as <folder>/*.graphql, and one output with preset: client");
  }
  const [output, { presetConfig = {}, config = {} }] = outputs[0]!;
  return { schema: file.schema, operations: documents[1]!, output, presetConfig, config };
}

const { schema: SCHEMA, operations: OPERATIONS, output: OUTPUT, presetConfig, config } = readSettings();

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
