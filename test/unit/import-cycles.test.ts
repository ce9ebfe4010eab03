import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const script = resolve(__dirname, "../../scripts/import-cycles.mts");

/** Runs the check on a tree of files written from `files` (path → source), inside a temp dir. */
function check(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "cycles-"));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const run = spawnSync(process.execPath, [script, "src"], { cwd: dir, encoding: "utf8" });
    return { status: run.status, out: run.stdout + run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the import-cycle check (npm run check:cycles, run by .ci/run)", () => {
  it("passes on this repository", () => {
    const run = spawnSync(process.execPath, [script], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^No import cycle: \d+ files in \d+ folders/);
  });

  it("fails on a cycle between two files, type-only imports included, and names both", () => {
    const result = check({
      "src/a.ts": 'import type { B } from "./b";\nexport type A = B;\n',
      "src/b.ts": 'import { a } from "./a";\nexport type B = typeof a;\n',
    });
    expect(result.status).toBe(1);
    expect(result.out).toContain("Import cycle between files");
    expect(result.out).toContain("src/a.ts -> src/b.ts");
    expect(result.out).toContain("src/b.ts -> src/a.ts");
  });

  it("fails on a cycle between folders that no two files close", () => {
    const result = check({
      "src/one/a.ts": 'import { c } from "../two/c";\nexport const a = c;\n',
      "src/one/b.ts": "export const b = 1;\n",
      "src/two/c.ts": "export const c = 2;\n",
      "src/two/d.ts": 'import { b } from "../one/b";\nexport const d = b;\n',
    });
    expect(result.status).toBe(1);
    expect(result.out).toContain("Import cycle between folders");
    expect(result.out).not.toContain("between files");
  });

  it("lets a folder and the files at the root import each other, as a composition root does", () => {
    const result = check({
      "src/errors.ts": "export const E = 1;\n",
      "src/server.ts": 'import { a } from "./one/a";\nexport const s = a;\n',
      "src/one/a.ts": 'import { E } from "../errors";\nexport const a = E;\n',
    });
    expect(result.out).toContain("No import cycle: 3 files in 2 folders");
    expect(result.status).toBe(0);
  });
});
