import { URI, type TOTP } from "otpauth";
import { createAuthClient, type AuthClient, type FetchLike } from "../src/index.js";
import { startApi, type TestApi } from "../../../test/support/api.js";
import { PASSWORD, register, uniqueEmail } from "../../../test/support/client.js";

// A second factor and recent authentication through the client, in Node, against the real API.
// TOTP codes come from otpauth, as an authenticator app makes them from the enrolment's URI.
let api: TestApi;
/** Where admins need a second factor (MFA_REQUIRED_FOR_ROLES), and authentication is recent for one second only. */
let strict: TestApi;
const ADMIN_EMAIL = uniqueEmail("admin");
beforeAll(async () => {
  api = await startApi(null);
  strict = await startApi(null, { MFA_REQUIRED_FOR_ROLES: "ADMIN", ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, REAUTH_MAX_AGE_SECONDS: "1" });
});
afterAll(async () => {
  await api.stop();
  await strict.stop();
});

const clients: AuthClient[] = [];
afterEach(() => clients.splice(0).forEach((client) => client.close()));

const ENROLL = "mutation { enrollTotp { otpauthUri } }";
/** A code of the step `steps` from now: each step's code is accepted once, and one step of drift is. */
const codeAt = (totp: TOTP, steps = 0) => totp.generate({ timestamp: Date.now() + steps * 30_000 });

function client(url: string, { held = null as string | null, name = undefined as string | undefined } = {}) {
  const sent: string[] = [];
  /** The answer to the operation `held` waits until `release()`: a request that was in flight. */
  let release = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const counting: FetchLike = async (target, init) => {
    const operation = /\{\s*(\w+)/.exec((JSON.parse(init.body ?? "{}") as { query?: string }).query ?? "")?.[1] ?? "?";
    sent.push(operation);
    const response = await fetch(target, init as RequestInit);
    if (operation === held) await gate;
    return response;
  };
  const auth = createAuthClient({ url, ...(name ? { name } : { BroadcastChannel: null }), WebSocket: null, locks: null, fetch: counting });
  clients.push(auth);
  const events: string[] = [];
  auth.onAuthStateChange((event) => void events.push(event));
  return { auth, sent, events, release };
}

/** A user with TOTP on, enrolled through the client: its authenticator, and the client left signed out. */
async function enrolledUser(url = api.url) {
  const { email } = (await register(url)).user;
  const { auth } = client(url);
  await auth.signIn({ email, password: PASSWORD });
  const { enrollTotp } = await auth.request<{ enrollTotp: { otpauthUri: string } }>(ENROLL);
  const totp = URI.parse(enrollTotp.otpauthUri) as TOTP;
  expect(await auth.confirmTotp(codeAt(totp))).toHaveLength(10);
  await auth.signOut();
  return { email, totp };
}

describe("a second factor through the client", () => {
  it("signIn of an enrolled user resolves { mfaRequired: true } and waits in MFA_REQUIRED; verifyMfa fires SIGNED_IN", async () => {
    const { email, totp } = await enrolledUser();
    const { auth, sent, events } = client(api.url);
    const result = await auth.signIn({ email, password: PASSWORD });
    expect(result).toMatchObject({ email, mfaRequired: true });
    expect(auth.state.status).toBe("mfaRequired");
    expect(events).toEqual(["MFA_REQUIRED"]);

    const user = await auth.verifyMfa(codeAt(totp, 1));
    expect(user.email).toBe(email);
    expect(auth.state).toMatchObject({ status: "signedIn", session: { secondFactor: null, tokenType: "DPoP" } });
    expect(events).toEqual(["MFA_REQUIRED", "SIGNED_IN"]);
    expect(await auth.request("{ sessions { id } }")).toEqual({ sessions: [expect.objectContaining({ id: expect.any(String) })] });
    expect(sent).toEqual(["login", "verifyMfa", "sessions"]);
  });

  it("an operation refused with MFA_REQUIRED is a state: no refresh, no retry, no sign-out", async () => {
    const { email } = await enrolledUser();
    const { auth, sent, events } = client(api.url);
    await auth.signIn({ email, password: PASSWORD });
    await expect(auth.request("{ sessions { id } }")).rejects.toMatchObject({ code: "FORBIDDEN", reason: "MFA_REQUIRED" });
    await expect(auth.request("{ sessions { id } }")).rejects.toMatchObject({ reason: "MFA_REQUIRED" });
    expect(auth.state.status).toBe("mfaRequired");
    expect(await auth.request("{ me { email } }")).toEqual({ me: { email } });
    expect(sent).toEqual(["login", "sessions", "sessions", "me"]);
    expect(events).toEqual(["MFA_REQUIRED"]);
  });

  it("a late MFA_REQUIRED, the answer to a request sent before verifyMfa, leaves the verified session signed in, in every tab", async () => {
    const { email, totp } = await enrolledUser();
    const name = `late-mfa-${process.pid}`;
    const { auth, sent, events, release } = client(api.url, { held: "sessions", name });
    const { auth: other, events: otherEvents } = client(api.url, { name });
    await auth.signIn({ email, password: PASSWORD });
    const early = auth.request<{ sessions: { id: string }[] }>("{ sessions { id } }");
    await until(() => sent.includes("sessions"));
    await auth.verifyMfa(codeAt(totp, 1));
    release();
    // Refused for the aal1 token it carried: sent again with the aal2 token, and answered.
    expect(await early).toEqual({ sessions: [expect.objectContaining({ id: expect.any(String) })] });
    expect(sent).toEqual(["login", "sessions", "verifyMfa", "sessions"]);
    expect(auth.state.status).toBe("signedIn");
    expect(events).toEqual(["MFA_REQUIRED", "SIGNED_IN"]);
    await new Promise((r) => setTimeout(r, 50));
    expect(other.state.status).toBe("signedIn");
    expect(otherEvents).toEqual(["MFA_REQUIRED", "SIGNED_IN"]);
  });

  it("a tab ignores another tab's MFA_REQUIRED about a token it has replaced", async () => {
    const { email, totp } = await enrolledUser();
    const name = `late-mfa-tabs-${process.pid}`;
    const { auth } = client(api.url, { name });
    await auth.signIn({ email, password: PASSWORD });
    const aal1 = auth.currentAccessToken()!;
    await auth.verifyMfa(codeAt(totp, 1));
    const late = new BroadcastChannel(name);
    late.postMessage({ type: "secondFactor", reason: "MFA_REQUIRED", accessToken: aal1 });
    late.postMessage({ type: "secondFactor", reason: "MFA_ENROLLMENT_REQUIRED", accessToken: aal1 });
    await new Promise((r) => setTimeout(r, 50));
    late.close();
    expect(auth.state.status).toBe("signedIn");
  });

  it("MFA_ENROLLMENT_REQUIRED is a state too; confirmTotp leaves it with SIGNED_IN", async () => {
    const USERS = "{ users(first: 1) { totalCount } }";
    const { auth, sent, events } = client(strict.url);
    await auth.signIn({ email: ADMIN_EMAIL, password: PASSWORD });
    await expect(auth.request(USERS)).rejects.toMatchObject({ code: "FORBIDDEN", reason: "MFA_ENROLLMENT_REQUIRED" });
    expect(auth.state.status).toBe("mfaEnrollmentRequired");
    expect(events).toEqual(["SIGNED_IN", "MFA_ENROLLMENT_REQUIRED"]);
    const { enrollTotp } = await auth.request<{ enrollTotp: { otpauthUri: string } }>("mutation ($p: String) { enrollTotp(currentPassword: $p) { otpauthUri } }", { p: PASSWORD });
    await auth.confirmTotp(codeAt(URI.parse(enrollTotp.otpauthUri) as TOTP));
    expect(auth.state.status).toBe("signedIn");
    expect(events).toEqual(["SIGNED_IN", "MFA_ENROLLMENT_REQUIRED", "SIGNED_IN"]);
    expect(await auth.request(USERS)).toMatchObject({ users: { totalCount: expect.any(Number) } });
    expect(sent).toEqual(["login", "users", "enrollTotp", "confirmTotp", "users"]);
  });
});

describe("reauthenticate", () => {
  it("after REAUTHENTICATION_REQUIRED, reauthenticate({ password }) lets the same call through; the session is untouched", async () => {
    // strict: recent authentication lasts one second.
    const { email } = (await register(strict.url)).user;
    const { auth, events } = client(strict.url);
    await auth.signIn({ email, password: PASSWORD });
    await new Promise((r) => setTimeout(r, 1_100));
    await expect(auth.request(ENROLL)).rejects.toMatchObject({ code: "FORBIDDEN", reason: "REAUTHENTICATION_REQUIRED" });
    await expect(auth.reauthenticate({ password: "not the password" })).rejects.toMatchObject({ reason: "INVALID_CREDENTIALS" });
    await auth.reauthenticate({ password: PASSWORD });
    expect(await auth.request<{ enrollTotp: { otpauthUri: string } }>(ENROLL)).toMatchObject({ enrollTotp: { otpauthUri: expect.stringMatching(/^otpauth:/) } });
    expect(auth.state.status).toBe("signedIn");
    expect(events).toEqual(["SIGNED_IN"]);
  });
});

async function until(check: () => boolean, withinMs = 5_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}
