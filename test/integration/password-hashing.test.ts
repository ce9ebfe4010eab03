import pino from "pino";
import { OWASP_HASHING } from "../../src/auth/accounts/passwords";
import { loadConfig } from "../../src/config";
import { startServer } from "../../src/server";
import { startApi, TEST_HASHING, testEnv } from "../support/api";
import { register } from "../support/client";
import { costOf } from "../support/passwords";


describe("the cost of password hashes", () => {
  it("is OWASP's for a server built without passwordHashing, as index.ts builds it", async () => {
    const server = await startServer(loadConfig(testEnv(null)), { logger: pino({ level: "silent" }) });
    try {
      const { user } = await register(server.url);
      expect(costOf((await server.store.getCredentials(user.id))!.passwordHash)).toEqual(OWASP_HASHING);
    } finally {
      await server.stop();
    }
  });

  it("is the cheap one the in-process test servers ask for", async () => {
    const api = await startApi(null);
    try {
      const { user } = await register(api.url);
      expect(costOf((await api.store.getCredentials(user.id))!.passwordHash)).toEqual(TEST_HASHING);
    } finally {
      await api.stop();
    }
  });
});
