import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { markedBlocks, ROOT } from "../support/readme";

const major = (version: string) => Number(version.replace(/^v/, "").split(".")[0]);

describe("the Node.js the project runs on", () => {
  it("is 22 or later by engines, and the tests run on it", () => {
    expect(JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")).engines.node).toBe(">=22");
    expect(major(process.version)).toBeGreaterThanOrEqual(22);
  });

  it("is put first on PATH by the README's block, which .ci/run runs too", () => {
    const block = markedBlocks().find((b) => b.role === "node");
    expect(block).toBeDefined();
    expect(readFileSync(resolve(ROOT, ".ci/run"), "utf8")).toContain(block!.code.trim());
    // Run as written, with this machine's PATH: afterwards `node` is 22 or later.
    const version = execFileSync("bash", ["-eo", "pipefail", "-c", `${block!.code}\nnode --version`], { cwd: ROOT, encoding: "utf8" });
    expect(major(version.trim())).toBeGreaterThanOrEqual(22);
  });
});
