import { performance } from "node:perf_hooks";
import { Passwords } from "../../src/auth/accounts/passwords";

/** Median of `runs` timings of `work`, in ms. */
async function median(runs: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
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
    // A skipped check takes well under a millisecond against ~80 ms: the ratio tells them apart at once.
    expect(none / wrong).toBeGreaterThan(0.5);
  });

  it("still accepts the right password and refuses a wrong one", async () => {
    expect(await passwords.verify(realHash, "the right passphrase")).toBe(true);
    expect(await passwords.verify(realHash, "a wrong passphrase")).toBe(false);
  });
});
