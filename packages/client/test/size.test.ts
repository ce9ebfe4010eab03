import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

describe("the browser bundle", () => {
  it("is at most 15 KB gzip with its dependencies, built as npm installs it (dist/), as the size script prints it", () => {
    const output = execFileSync(process.execPath, [resolve(__dirname, "../scripts/size.mjs")], { encoding: "utf8" });
    const index = /^index\s+[\d.]+ KB minified,\s+([\d.]+) KB gzip$/m.exec(output);
    expect(index).not.toBeNull();
    expect(Number(index![1])).toBeLessThanOrEqual(15);
    expect(output).toMatch(/^urql .*\n^apollo .*\n^graphql-ws /m);
    // The README states the figure the script prints.
    const readme = readFileSync(resolve(__dirname, "../README.md"), "utf8");
    expect(readme).toContain(`| \`@revocable-auth/client\` | ${/^index\s+([\d.]+) KB/m.exec(output)![1]} KB | **${index![1]} KB** |`);
  });
});
