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

/**
 * Failed sign-ins name a user without their password: anyone can cause as many as the limits let
 * through. They are kept in the user's attempts stream, so however many arrive, the user's own
 * history (here, their sign-in) stays in securityEvents beside the newest failures.
 */
describe("a flood of failed sign-ins against one user", () => {
  let flooded: TestApi;
  const KEPT = 5;

  beforeAll(async () => {
    flooded = await startApi(null, { AUDIT_MAX_EVENTS_PER_USER: String(KEPT), LOGIN_MAX_FAILURES: "1000" });
  });
  afterAll(async () => {
    await flooded?.stop();
  });

  it("does not push the user's own events out of securityEvents, a wrong password typed in their session included", async () => {
    const user = await register(flooded.url);
    // A signed-in session probing for the password is the user's history, not an outsider's attempt.
    const reauth = await post(flooded.url, { query: 'mutation { changePassword(currentPassword: "not the password at all", newPassword: "a new long password") }' }, { token: user.accessToken });
    expect(reauth.errors?.[0]?.extensions?.reason).toBe("INVALID_CREDENTIALS");
    const fail = () => post(flooded.url, { query: `mutation { login(input: { email: "${user.user.email}", password: "wrong password" }) { accessToken } }` });
    for (let i = 0; i < 3 * KEPT; i++) expect((await fail()).errors?.[0]?.extensions?.reason).toBe("INVALID_CREDENTIALS");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const page = await post<{ securityEvents: { nodes: { type: string; sessionId: string | null }[] } }>(
      flooded.url,
      { query: "{ securityEvents(first: 100) { nodes { type sessionId } } }" },
      { token: user.accessToken },
    );
    const events = page.data!.securityEvents.nodes;
    expect(events.map((event) => event.type)).toContain("SIGNED_IN");
    expect(events.filter((event) => event.type === "LOGIN_FAILED" && event.sessionId === user.sessionId)).toHaveLength(1);
    expect(events.filter((event) => event.type === "LOGIN_FAILED" && event.sessionId === null)).toHaveLength(KEPT);
    expect(events[0]!.type).toBe("LOGIN_FAILED");
  });
});
