import type { Store } from "../../src/store/store";
import { auditContract } from "./ports/audit";
import { federationContract } from "./ports/federation";
import type { ContractHarness } from "./ports/harness";
import { identitiesContract } from "./ports/identities";
import { keySetContract } from "./ports/key-set";
import { limiterContract } from "./ports/limiter";
import { mailTokensContract } from "./ports/mail-tokens";
import { mfaContract } from "./ports/mfa";
import { oauthClientsContract, oauthModelsContract } from "./ports/oauth";
import { passkeysContract, webAuthnChallengesContract } from "./ports/passkeys";
import { sessionsContract } from "./ports/sessions";
import { transitionsContract } from "./ports/transitions";
import { usersContract } from "./ports/users";

export type StoreHarness = ContractHarness<Store>;

/**
 * The Store contract: every implementation must pass this same suite, so the embedded store is
 * a faithful stand-in for Redis on one instance. It is the per-port suites in ./ports, each a
 * function of a harness that serves that port: a backend for some ports (a Postgres directory)
 * runs those suites alone.
 */
export function storeContract(name: string, harness: () => StoreHarness) {
  describe(`Store contract: ${name}`, () => {
    usersContract(harness);
    sessionsContract(harness);
    mfaContract(harness);
    transitionsContract(harness);
    keySetContract(harness);
    limiterContract(harness);
    auditContract(harness);
    passkeysContract(harness);
    webAuthnChallengesContract(harness);
    mailTokensContract(harness);
    identitiesContract(harness);
    federationContract(harness);
    oauthModelsContract(harness);
    oauthClientsContract(harness);

    let store: Store;
    beforeAll(() => void ({ store } = harness()));
    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
