import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * The package as an adopter installs it: its compiled dist/ (the global setup built it), resolved
 * by Node through package.json's `exports`, from a process outside jest's module mapping.
 */
const ROOT = resolve(__dirname, "../../..");
const resolveFromOutside = (script: string): string =>
  execFileSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8" }).trim();
const exportsOf = (specifier: string): string[] => JSON.parse(resolveFromOutside(`console.log(JSON.stringify(Object.keys(require(${JSON.stringify(specifier)})).sort()))`));

describe("the package's exports", () => {
  it("give adopters only the verifier, its Apollo and type-graphql helpers, the key sources and LiveGuard at the root", () => {
    expect(exportsOf("@revocable-auth/verifier")).toEqual(
      ["LiveGuard", "RemoteKeys", "StaticKeys", "authChecker", "authContext", "createVerifier", "requireAal", "toGraphQLError"].sort(),
    );
  });

  it("give the auth API its shared kernel under ./internal, and nothing of it at the root", () => {
    const internal = exportsOf("@revocable-auth/verifier/internal");
    for (const name of ["keys", "isRevoked", "identityOf", "ROLES", "TokenChecks", "accessClaimsOf", "parseLiveEvent", "LIVE_CHANNEL", "MESSAGES"]) {
      expect(internal).toContain(name);
    }
    expect(exportsOf("@revocable-auth/verifier").filter((name) => internal.includes(name))).toEqual([]);
  });

  it("refuse a deep import of a compiled file, so ./internal is the only way into the kernel", () => {
    const answer = resolveFromOutside(`try { require("@revocable-auth/verifier/dist/keys.js"); console.log("loaded") } catch (error) { console.log(error.code) }`);
    expect(answer).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it("declare the Node the project supports", () => {
    const own = JSON.parse(readFileSync(resolve(__dirname, "../package.json"), "utf8"));
    const project = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8"));
    expect(own.engines.node).toBe(project.engines.node);
  });
});
