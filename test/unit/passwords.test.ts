import { Passwords } from "../../src/auth/accounts/passwords";

/**
 * Median of `runs` measures of the CPU `work` costs this process (argon2's pool threads included),
 * in µs. CPU, not wall time: another process's load stretches the wall time of either side at
 * random, but not the work a check does, which is what an attacker's timing would reveal.
 */
async function median(runs: number, work: () => Promise<unknown>): Promise<number> {
  const costs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.cpuUsage();
    await work();
    const used = process.cpuUsage(start);
    costs.push(used.user + used.system);
  }
  return costs.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

describe("password checks at OWASP's cost", () => {
  let passwords: Passwords;
  let realHash: string;
  beforeAll(async () => {
    passwords = await Passwords.create();
    realHash = await passwords.hash("the right passphrase");
  });

  it("refuses any password for an account without one (a provider made it), after as long a check as a real one", async () => {
    expect(await passwords.verify("", "")).toBe(false);
    expect(await passwords.verify("", "dummy password for unknown users")).toBe(false);
    const wrong = await median(5, () => passwords.verify(realHash, "a wrong passphrase"));
    const none = await median(5, () => passwords.verify("", "a wrong passphrase"));
    // A skipped check costs well under a millisecond against ~80 ms: the ratio tells them apart at once.
    expect(none / wrong).toBeGreaterThan(0.5);
  });

  it("still accepts the right password and refuses a wrong one", async () => {
    expect(await passwords.verify(realHash, "the right passphrase")).toBe(true);
    expect(await passwords.verify(realHash, "a wrong passphrase")).toBe(false);
  });
});
