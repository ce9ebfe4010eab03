import { startApi, type TestApi } from "../support/api";
import { login, post, register, uniqueEmail, PASSWORD } from "../support/client";

/**
 * A refused (throttled) login costs the attacker one cheap request and no account: if each one were
 * a trail entry, a flood of them would fill the global stream to AUDIT_MAX_EVENTS, pushing every
 * real event out of auditEvents and holding Redis memory. Each refusal is still logged and counted.
 */
let api: TestApi;
let admin: string;
const ADMIN_EMAIL = uniqueEmail("admin");

beforeAll(async () => {
  api = await startApi(null, { ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, LOGIN_MAX_FAILURES: "1" });
  admin = (await login(api.url, ADMIN_EMAIL)).accessToken;
});
afterAll(async () => {
  await api?.stop();
});

const throttledEntries = async () => {
  const page = await post<{ auditEvents: { nodes: { type: string }[] } }>(
    api.url,
    { query: '{ auditEvents(first: 100, filter: { types: ["LOGIN_THROTTLED"] }) { nodes { type } } }' },
    { token: admin },
  );
  return page.data!.auditEvents.nodes.length;
};

const metric = async (name: string) => {
  const text = await (await fetch(api.url.replace("/graphql", "/metrics"))).text();
  return Number(text.split("\n").find((line) => line.startsWith(name))?.split(" ")[1] ?? 0);
};

it("writes a flood of refused logins from one client to the trail once, and counts every one", async () => {
  const user = await register(api.url);
  const attempt = () =>
    post(api.url, { query: `mutation { login(input: { email: "${user.user.email}", password: "wrong password" }) { accessToken } }` });
  await attempt();
  for (let i = 0; i < 30; i++) expect((await attempt()).errors?.[0]?.extensions?.reason).toBe("LOGIN_THROTTLED");
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await metric('auth_throttled_total{reason="LOGIN_THROTTLED"}')).toBe(30);
  expect(await throttledEntries()).toBe(1);
});
