import type { TestApi } from "../support/api";
import { expectBlockRuns, markedBlocks } from "../support/readme";
import { startApiWithProvider, type TestProvider } from "../support/oidc";

/**
 * The README's provider sign-in block, run as written in bash against the API configured with a
 * local oidc-provider as `corp` (the block's own prose says how); only the API's URL differs. It
 * goes through the provider's login form with curl and a cookie jar, to the callback, `refresh` and `me`.
 */
const README_URL = "API=http://localhost:4000/graphql";
const block = markedBlocks().find((marked) => marked.role === "oidc");
let api: TestApi, provider: TestProvider;

beforeAll(async () => {
  // The block signs in as alice, whose address the provider verified: a new account is made for her.
  ({ api, provider } = await startApiWithProvider({ accounts: { alice: { email: "alice@example.com", email_verified: true } } }));
});
afterAll(async () => {
  await api?.stop();
  await provider?.stop();
});

it("runs the README's provider sign-in block as written, with the outcomes it states", async () => {
  expect(block).toBeDefined();
  expect(block!.code.split(README_URL)).toHaveLength(2);
  const script = block!.code.replace(README_URL, `API=${api.url}`);
  await expectBlockRuns(script, block!.code);
});
