import { PASSWORD } from "../support/client";
import { expectBlockRuns, markedBlocks } from "../support/readme";
import { startOAuthApi } from "../support/oauth";
import type { TestApi } from "../support/api";

/**
 * The README's OAuth provider block, run as written in bash against the API with OAUTH_PROVIDER=on
 * and the admin its prose names; only the issuer's URL differs.
 */
const README_ISSUER = "ISSUER=http://localhost:4000";
const block = markedBlocks().find((marked) => marked.role === "oauth");
let api: TestApi & { issuer: string };

beforeAll(async () => {
  api = await startOAuthApi(null, { ADMIN_EMAIL: "admin@example.com", ADMIN_PASSWORD: PASSWORD });
});
afterAll(() => api?.stop());

it("runs the README's OAuth provider block as written: a relying party signs a user in, and the user revokes it", async () => {
  expect(block).toBeDefined();
  expect(block!.code.split(README_ISSUER)).toHaveLength(2);
  const script = block!.code.replace(README_ISSUER, `ISSUER=${api.issuer}`);
  await expectBlockRuns(script, block!.code);
});
