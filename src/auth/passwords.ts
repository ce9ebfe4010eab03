import argon2 from "argon2";

/** OWASP's recommended argon2id settings: 19 MiB of memory, two passes, one lane. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** NIST SP 800-63B: the same characters typed on any keyboard or OS give the same password. */
const normalizePassword = (password: string) => password.normalize("NFC");

/**
 * Hashes and checks passwords. `verifyAgainstNothing` spends the same work as a real check, so a
 * login for an unknown email takes as long as one with a wrong password.
 */
export class Passwords {
  private constructor(private readonly dummyHash: string) {}

  static async create(): Promise<Passwords> {
    return new Passwords(await argon2.hash("dummy password for unknown users", ARGON2_OPTIONS));
  }

  hash(password: string): Promise<string> {
    return argon2.hash(normalizePassword(password), ARGON2_OPTIONS);
  }

  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, normalizePassword(password));
    } catch {
      return false;
    }
  }

  async verifyAgainstNothing(password: string): Promise<false> {
    await this.verify(this.dummyHash, password);
    return false;
  }
}
