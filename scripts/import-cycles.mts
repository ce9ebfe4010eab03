// Fails on any import cycle, between files or between folders, in the server and the packages.
// Type-only imports count: a folder that needs another's types depends on it all the same.
// Run by .ci/run through `npm run check:cycles`; Node 24 runs this file as it is (type stripping).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

/** The folders checked: the arguments, relative to the working directory, or the server and packages. */
const args = process.argv.slice(2);
const root = args.length > 0 ? process.cwd() : resolve(import.meta.dirname, "..");
const ROOTS = args.length > 0 ? args : ["src", "packages/verifier/src", "packages/client/src"];

function sourceFiles(dir: string): string[] {
  const abs = join(root, dir);
  let entries: string[];
  try {
    entries = readdirSync(abs);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(abs, name);
    if (statSync(path).isDirectory()) return sourceFiles(relative(root, path));
    return /\.(ts|tsx|mts)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

const options: ts.CompilerOptions = { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 };
const files = ROOTS.flatMap(sourceFiles);
const known = new Set(files);
const edges = new Map<string, Set<string>>();
for (const file of files) {
  const targets = new Set<string>();
  for (const imported of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
    if (!imported.fileName.startsWith(".")) continue;
    const resolved = ts.resolveModuleName(imported.fileName, file, options, ts.sys).resolvedModule?.resolvedFileName;
    if (resolved !== undefined && known.has(resolved) && resolved !== file) targets.add(resolved);
  }
  edges.set(file, targets);
}

/** Tarjan's strongly connected components: every component of more than one node is a cycle. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/**
 * A file's folder; a file at a root (src/server.ts, src/errors.ts) stands for itself, since the
 * root holds both the kernel every folder uses and the composition root that uses every folder.
 */
const rootDirs = new Set(ROOTS.map((dir) => join(root, dir)));
const folderOf = (file: string) => (rootDirs.has(dirname(file)) ? file : dirname(file));
const folders = new Map<string, Set<string>>();
for (const [from, targets] of edges) {
  const folder = folderOf(from);
  const out = folders.get(folder) ?? new Set<string>();
  for (const to of targets) if (folderOf(to) !== folder) out.add(folderOf(to));
  folders.set(folder, out);
}

const show = (path: string) => relative(root, path);
/** One witness per component: an import from each member to the next that stays inside it. */
function explain(graph: Map<string, Set<string>>, component: string[]): string {
  const inside = new Set(component);
  const lines: string[] = [];
  for (const node of component) for (const to of graph.get(node) ?? []) if (inside.has(to)) lines.push(`    ${show(node)} -> ${show(to)}`);
  return lines.join("\n");
}

const fileCycles = cycles(edges);
const folderCycles = cycles(folders);
for (const component of fileCycles) console.error(`Import cycle between files:\n${explain(edges, component)}`);
for (const component of folderCycles) console.error(`Import cycle between folders:\n${explain(folders, component)}`);
if (fileCycles.length + folderCycles.length > 0) process.exit(1);
console.log(`No import cycle: ${files.length} files in ${new Set(files.map(dirname)).size} folders`);
