import { createAuthClient, type FetchLike } from "../src/index.js";
import type { TestApi } from "../../../test/support/api.js";
import { uniqueEmail } from "../../../test/support/client.js";
import { CookieJar, signInAtProvider, startApiWithProvider, visit, type TestProvider } from "../../../test/support/oidc.js";

// signInWith against the API and a real OpenID Provider (oidc-provider); the browser is a cookie jar.
const APP = "http://localhost:3000";
let api: TestApi, provider: TestProvider, origin: string;

beforeAll(async () => {
  ({ api, provider, origin } = await startApiWithProvider({ accounts: { dana: { email: uniqueEmail("dana"), email_verified: true } }, env: { APP_URL: APP } }));
});
afterAll(async () => {
  await api?.stop();
  await provider?.stop();
});

it("signInWith opens the start route, and onAuthStateChange fires SIGNED_IN once the callback set the cookie", async () => {
  const jar = new CookieJar();
  const opened: string[] = [];
  // A browser keeps the API's cookies; here the jar does, for the client's fetch too.
  const browserFetch: FetchLike = async (url, init) => {
    const response = await fetch(url, { ...init, headers: { ...init?.headers, cookie: jar.header(url) } } as RequestInit);
    jar.store(url, response.headers);
    return response;
  };
  const client = createAuthClient({ url: api.url, refreshToken: "cookie", liveUrl: null, fetch: browserFetch, locks: null, BroadcastChannel: null, navigate: (url) => void opened.push(url) });
  const events: string[] = [];
  client.onAuthStateChange((event) => void events.push(event));
  const url = client.signInWith("corp", { redirectTo: `${APP}/signed-in` });
  expect(opened).toEqual([url]);
  expect(url).toBe(`${origin}/auth/oidc/corp/start?redirect_to=${encodeURIComponent(`${APP}/signed-in`)}`);
  const started = await visit(jar, url);
  const callbackUrl = await signInAtProvider(jar, started.headers.get("location")!, "dana", `${origin}/auth/oidc/corp/callback`);
  const answered = await visit(jar, callbackUrl);
  expect(answered.headers.get("location")).toBe(`${APP}/signed-in`);
  expect(await client.getAccessToken()).toBeTruthy();
  expect(events).toEqual(["SIGNED_IN"]);
  client.close();
});
