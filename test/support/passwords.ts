import type { PasswordHashing } from "../../src/auth/accounts/passwords";

/** The cost a PHC-format argon2 hash says it was made with (`$argon2id$v=19$m=…,p=…,t=…$…`). */
export function costOf(hash: string): PasswordHashing {
  return { memoryCost: Number(/[$,]m=(\d+)/.exec(hash)?.[1]), timeCost: Number(/[$,]t=(\d+)/.exec(hash)?.[1]) };
}
