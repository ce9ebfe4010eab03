import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export const ROOT = resolve(__dirname, "../..");

/** A shell block of the README marked with `<!-- readme-test: <role> -->` on the line before it. */
export interface MarkedBlock {
  readonly role: string;
  readonly code: string;
}

export function markedBlocks(file = "README.md"): MarkedBlock[] {
  const markdown = readFileSync(resolve(ROOT, file), "utf8");
  const pattern = /<!-- readme-test: ([\w-]+) -->\n```sh\n([\s\S]*?)```/g;
  return [...markdown.matchAll(pattern)].map(([, role, code]) => ({ role, code }));
}

/** The `# → a … b` lines of a block, each split into the fragments its output must contain. */
export function statedOutcomes(code: string): string[][] {
  return code
    .split("\n")
    .filter((line) => line.startsWith("# → "))
    .map((line) => line.slice("# → ".length).split(" … "));
}

/**
 * The first fragment (in order, exactly as written: a reader compares what they see) that `output`
 * does not contain after the previous one.
 */
export function missingFragment(output: string, outcomes: string[][]): string | null {
  let from = 0;
  for (const fragment of outcomes.flat()) {
    const at = output.indexOf(fragment, from);
    if (at < 0) return fragment;
    from = at + fragment.length;
  }
  return null;
}
