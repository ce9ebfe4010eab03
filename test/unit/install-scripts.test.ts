import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import argon2 from "argon2";
import { ROOT } from "../support/readme";

const read = (file: string) => JSON.parse(readFileSync(resolve(ROOT, file), "utf8"));

describe("install scripts", () => {
  it("are decided in package.json's allowScripts for every dependency that has one, so `npm ci` on npm 11 warns of none", () => {
    const allowScripts: Record<string, boolean> = read("package.json").allowScripts ?? {};
    const withScripts = Object.entries(read("package-lock.json").packages as Record<string, { hasInstallScript?: boolean }>)
      .filter(([path, entry]) => path.includes("node_modules/") && entry.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
    expect(withScripts.filter((name) => !(name in allowScripts))).toEqual([]);
  });

  it("run for argon2, whose install picks its prebuilt binary, and loads it", async () => {
    expect(read("package.json").allowScripts.argon2).toBe(true);
    expect(await argon2.hash("a password", { memoryCost: 1024, timeCost: 1 })).toMatch(/^\$argon2id\$/);
  });
});
