import pino from "pino";
import { MeDocument, RefreshWithCookieDocument, SignInProvidersDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { send, uniqueEmail } from "../support/client";
import { CookieJar, signInAtProvider, startProvider, visit, type ProviderAccount, type TestProvider } from "../support/oidc";
import { freePort } from "../support/redis";

// Discovery against real oidc-provider upstreams (test/support/oidc-provider.mjs): `tenant`'s issuer
// has a path ending in "/" (as an Entra tenant's `…/v2.0/` may be written), and `late`'s issuer is a
// loopback port nothing listens on when the API starts; its provider starts there later.
const APP = "http://localhost:3000";
const person = (login: string) => ({ login, email: uniqueEmail(login) });
const corpUser = person("corp-user");
const tenantUser = person("tenant-user");
const lateUser = person("late-user");
const accounts: Record<string, ProviderAccount> = Object.fromEntries([corpUser, tenantUser, lateUser].map(({ login, email }) => [login, { email, email_verified: true }]));
const warnings: { provider?: string; msg: string }[] = [];
let api: TestApi, corp: TestProvider, tenant: TestProvider, late: TestProvider | undefined;
let origin: string, latePort: number;

const client = (name: string) => ({ client_id: `api-${name}`, client_secret: `secret-of-${name}-0123456789`, redirect_uris: [`${origin}/auth/oidc/${name}/callback`] });
const credentials = (name: string) => ({ [`OIDC_${name.toUpperCase()}_CLIENT_ID`]: `api-${name}`, [`OIDC_${name.toUpperCase()}_CLIENT_SECRET`]: `secret-of-${name}-0123456789` });

beforeAll(async () => {
  const port = await freePort();
  latePort = await freePort();
  origin = `http://localhost:${port}`;
  [corp, tenant] = await Promise.all([startProvider({ clients: [client("corp")], accounts }), startProvider({ clients: [client("tenant")], accounts, path: "/tenant/v2.0/" })]);
  api = await startApi(
    null,
    {
      PORT: String(port),
      PUBLIC_URL: origin,
      APP_URL: APP,
      OIDC_PROVIDERS: "corp,tenant,late",
      OIDC_CORP_ISSUER: corp.issuer,
      ...credentials("corp"),
      OIDC_TENANT_ISSUER: tenant.issuer,
      ...credentials("tenant"),
      OIDC_LATE_ISSUER: `http://localhost:${latePort}`,
      ...credentials("late"),
    },
    { logger: pino({ level: "warn" }, { write: (line: string) => void warnings.push(JSON.parse(line) as { provider?: string; msg: string }) }) },
  );
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await Promise.all([corp?.stop(), tenant?.stop(), late?.stop()]);
});

const startUrl = (provider: string) => `${origin}/auth/oidc/${provider}/start?redirect_to=${encodeURIComponent(`${APP}/`)}`;

/** The whole sign-in in a played browser: start, the provider's login, the callback; then refresh and me. */
async function signIn(provider: string, issuer: string, login: string): Promise<string | undefined> {
  const jar = new CookieJar();
  const start = await visit(jar, startUrl(provider));
  expect(start.status).toBe(302);
  expect(start.headers.get("location")!.startsWith(issuer)).toBe(true);
  const callbackUrl = await signInAtProvider(jar, start.headers.get("location")!, login, `${origin}/auth/oidc/${provider}/callback`);
  expect(new URL(callbackUrl).searchParams.get("iss")).toBe(issuer);
  const done = await visit(jar, callbackUrl);
  expect(done.status).toBe(303);
  expect(done.headers.get("location")).toBe(`${APP}/`);
  const refresh = /refresh_token=([^;]+)/.exec(done.headers.getSetCookie().join("\n"))?.[1];
  const refreshed = await send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie: `refresh_token=${refresh}` } });
  return (await send(api.url, MeDocument, {}, { token: refreshed.data!.refresh.accessToken })).data?.me.email;
}

it("discovers an issuer whose path ends in a slash, kept exactly as configured, and signs in with it", async () => {
  expect(tenant.issuer).toMatch(/^http:\/\/localhost:\d+\/tenant\/v2\.0\/$/);
  expect(await signIn("tenant", tenant.issuer, tenantUser.login)).toBe(tenantUser.email);
});

it("logs a warning for an issuer that does not answer, keeps the other providers working, and signs in with it once it answers, without a restart", async () => {
  expect(warnings.filter((line) => line.provider === "late").map((line) => line.msg)).toContainEqual(expect.stringContaining(`cannot discover the sign-in provider "late" at http://localhost:${latePort}`));
  expect(warnings.filter((line) => line.msg.startsWith("cannot discover")).map((line) => line.provider)).toEqual(["late"]);
  expect((await send(api.url, SignInProvidersDocument)).data!.signInProviders.map((provider) => provider.id)).toEqual(["corp", "tenant", "late"]);
  expect(await signIn("corp", corp.issuer, corpUser.login)).toBe(corpUser.email);
  // Meanwhile its sign-in goes back to the app with OIDC_PROVIDER_ERROR, storing no flow.
  const refused = await visit(new CookieJar(), startUrl("late"));
  expect(refused.status).toBe(303);
  expect(refused.headers.get("location")).toBe(`${APP}/?error=OIDC_PROVIDER_ERROR`);
  expect(refused.headers.getSetCookie()).toEqual([]);

  late = await startProvider({ clients: [client("late")], accounts, port: latePort });
  expect(late.issuer).toBe(`http://localhost:${latePort}`);
  // Discovery is retried in the background (1 s, doubling): the same API picks the provider up.
  const deadline = Date.now() + 45_000;
  while (!(await visit(new CookieJar(), startUrl("late"))).headers.get("location")!.startsWith(late.issuer)) {
    if (Date.now() > deadline) throw new Error("the API never discovered the late provider");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect(await signIn("late", late.issuer, lateUser.login)).toBe(lateUser.email);
}, 90_000);
