import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const read = (path: string) => readFileSync(resolve(__dirname, "..", path), "utf8");
const readme = read("README.md");

/** Every name an entry point exports, values and types. */
function exportsOf(file: string): string[] {
  const source = read(file);
  const lists = [...source.matchAll(/export (?:type )?\{([^}]+)\}/g)].flatMap((m) => m[1]!.split(","));
  const declared = [...source.matchAll(/^export (?:async )?(?:function|const|class|interface|type) (\w+)/gm)].map((m) => m[1]!);
  return [...lists.map((name) => name.trim().split(/\s+as\s+/).pop()!).filter(Boolean), ...declared];
}

describe("the package README", () => {
  it.each(["src/index.ts", "src/urql.ts", "src/apollo.ts", "src/graphql-ws.ts"])("documents every export of %s", (file) => {
    const names = exportsOf(file);
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((name) => !readme.includes(`\`${name}`) && !readme.includes(`${name}(`))).toEqual([]);
  });

  it("states the bundle size the size script prints", () => {
    expect(readme).toMatch(/\| `@revocable-auth\/client` \| [\d.]+ KB \| \*\*[\d.]+ KB\*\* \|/);
  });
});
