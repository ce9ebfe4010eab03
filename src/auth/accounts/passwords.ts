import argon2 from "argon2";
import type { HashQueue } from "./hash-queue";

/** The argon2id cost of new hashes: memory in KiB, and passes over it. */
export interface PasswordHashing {
  readonly memoryCost: number;
  readonly timeCost: number;
}

/** OWASP's recommended argon2id settings: 19 MiB of memory, two passes, one lane. */
export const OWASP_HASHING: PasswordHashing = { memoryCost: 19_456, timeCost: 2 };
export const ARGON2_OPTIONS = { type: argon2.argon2id, ...OWASP_HASHING, parallelism: 1 } as const;

/** NIST SP 800-63B: the same characters typed on any keyboard or OS give the same password. */
const normalizePassword = (password: string) => password.normalize("NFC");

/** The turn of work done for no client (the admin account at start-up). */
const INTERNAL = "internal";

/**
 * Hashes and checks passwords. `verifyAgainstNothing` spends the same work as a real check, so a
 * login for an unknown email takes as long as one with a wrong password. With a queue, every
 * call waits for `client`'s turn (its IP key), so no client can hold all of argon2.
 */
export class Passwords {
  private constructor(
    private readonly dummyHash: string,
    private readonly queue: HashQueue | null,
    private readonly options: typeof ARGON2_OPTIONS,
  ) {}

  /**
   * `hashing` sets the cost of new hashes only (OWASP's unless a caller chooses, as tests do to
   * save time); a check reads the cost from the hash it checks, so hashes made with other settings
   * keep verifying. The stand-in hash for unknown emails is made with the same cost as new ones.
   */
  static async create(queue: HashQueue | null = null, hashing: PasswordHashing = OWASP_HASHING): Promise<Passwords> {
    const options = { ...ARGON2_OPTIONS, memoryCost: hashing.memoryCost, timeCost: hashing.timeCost };
    return new Passwords(await argon2.hash("dummy password for unknown users", options), queue, options);
  }

  hash(password: string, client = INTERNAL): Promise<string> {
    return this.inTurn(client, () => argon2.hash(normalizePassword(password), this.options));
  }

  /**
   * An account without a password (a provider created it: its hash is empty) is checked against
   * the stand-in, as an unknown address is, so neither answers sooner than a real check.
   */
  verify(hash: string, password: string, client = INTERNAL): Promise<boolean> {
    return this.inTurn(client, async () => {
      try {
        if (hash === "") {
          await argon2.verify(this.dummyHash, normalizePassword(password));
          return false;
        }
        return await argon2.verify(hash, normalizePassword(password));
      } catch {
        return false;
      }
    });
  }

  async verifyAgainstNothing(password: string, client = INTERNAL): Promise<false> {
    await this.verify(this.dummyHash, password, client);
    return false;
  }

  private inTurn<T>(client: string, work: () => Promise<T>): Promise<T> {
    return this.queue ? this.queue.run(client, work) : work();
  }
}
