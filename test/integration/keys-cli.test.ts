import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { parseKeySet } from "../../src/auth/tokens/signing-keys";

const CLI = resolve(__dirname, "../../dist/cli/keys.js");
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 15_000 });

describe("npm run keys -- generate <alg>", () => {
  it.each(["ES256", "RS256"] as const)("prints a private %s JWK that JWT_KEYS_FILE accepts", (algorithm) => {
    const { status, stdout } = run("generate", algorithm);
    expect(status).toBe(0);
    const jwk = JSON.parse(stdout);
    expect(jwk).toMatchObject({ alg: algorithm, use: "sig", kid: expect.stringMatching(/^\d{4}-\d{2}-\d{2}-[A-Za-z0-9_-]{8}$/) });
    expect(parseKeySet(JSON.stringify({ keys: [jwk] }), algorithm, "JWT_KEYS_FILE").problems).toEqual([]);
  });

  it("makes a different key each time", () => {
    expect(JSON.parse(run("generate", "ES256").stdout).d).not.toBe(JSON.parse(run("generate", "ES256").stdout).d);
  });

  it("explains its usage and exits 2 for anything else", () => {
    for (const args of [[], ["generate"], ["generate", "HS256"], ["rotate", "ES256"]]) {
      const { status, stderr, stdout } = run(...args);
      expect(status).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toContain("Usage: npm run keys -- generate <ES256|RS256>");
    }
  });
});
