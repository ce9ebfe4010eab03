import { connect } from "node:net";
import { print } from "graphql";
import { LoginDocument, LogoutOthersDocument, SecurityEventsDocument, SessionsDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, register, send, uniqueEmail } from "../support/client";
import { settled } from "../support/settled";

/**
 * What lands in a user's history and session list although the user did not write it: a
 * stranger's failed login brings its User-Agent along, and a session holder can call a sign-out
 * that ends nothing as often as they like.
 */

/**
 * Posts over a plain socket, the header's bytes as written: a server reads header bytes as latin1,
 * so each of U+0000–U+00FF below is one byte on the wire, as any client can send it.
 */
function postWithUserAgent(url: string, body: unknown, userAgent: string): Promise<{ status: number; text: string }> {
  const { hostname, port, pathname } = new URL(url);
  const json = Buffer.from(JSON.stringify(body));
  const head = `POST ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nUser-Agent: ${userAgent}\r\nConnection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(Buffer.concat([Buffer.from(head, "latin1"), json])));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const response = Buffer.concat(chunks).toString("utf8");
      resolve({ status: Number(response.split(" ")[1]), text: response.slice(response.indexOf("\r\n\r\n") + 4) });
    });
  });
}


/** Control characters (C0, DEL, C1), line separators, bidirectional overrides. */
const UNPRINTABLE = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/u;

describe("history that others write", () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startApi(null, { MAIL_URL: "off" });
  });
  afterAll(async () => {
    await api?.stop();
  });

  const history = async (token: string) => {
    const result = await send(api.url, SecurityEventsDocument, { first: 100 }, { token });
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.securityEvents.edges.map((edge) => edge.node);
  };

  it("shows a stranger's 10 KB User-Agent with control characters, from a failed login, bounded to 256 characters on one line", async () => {
    const email = uniqueEmail("victim");
    const victim = await register(api.url, { email });
    // A tab, the 8-bit CSI and NEL (which some terminals act on), and the UTF-8 bytes of U+202E
    // (RIGHT-TO-LEFT OVERRIDE) as a server reads them, repeated past 10 KB.
    const attack = "Evil/1.0 \t\u009b2J\u0085\u00e2\u0080\u00ae ".repeat(600);
    expect(attack.length).toBeGreaterThan(10_000);
    const refused = await postWithUserAgent(api.url, { query: print(LoginDocument), variables: { input: { email, password: "not the password at all" } } }, attack);
    expect(refused).toEqual({ status: 200, text: expect.stringContaining(`"reason":"INVALID_CREDENTIALS"`) });

    const events = await settled(() => history(victim.accessToken), (events) => events.some((event) => event.type === "LOGIN_FAILED"));
    const failed = events.find((event) => event.type === "LOGIN_FAILED");
    expect(failed?.userAgent).toBeDefined();
    const shown = failed!.userAgent!;
    expect(Array.from(shown).length).toBeLessThanOrEqual(256);
    expect(shown).not.toMatch(UNPRINTABLE);
    expect(shown.slice(0, 26)).toBe("Evil/1.0 \uFFFD\uFFFD2J\uFFFD\u00e2\uFFFD\u00ae Evil/1.0");
    expect(shown.endsWith("…")).toBe(true);
  });

  it("keeps a device name given with control characters on one line, in the session list and the history", async () => {
    const user = await register(api.url, { device: "phone\u0007\u001b[31m\u202e red" });
    const sessions = await send(api.url, SessionsDocument, {}, { token: user.accessToken });
    expect(sessions.data?.sessions.map((session) => session.device)).toEqual(["phone\uFFFD\uFFFD[31m\uFFFD red"]);
    const events = await settled(() => history(user.accessToken), (events) => events.some((event) => event.type === "SIGNED_IN"));
    expect(events.find((event) => event.type === "SIGNED_IN")?.device).toBe("phone\uFFFD\uFFFD[31m\uFFFD red");
  });

  it("writes nothing for 50 logoutOthers that end nothing, and SIGNED_OUT for the one that ends a session", async () => {
    const email = uniqueEmail("holder");
    const holder = await register(api.url, { email });
    for (let i = 0; i < 50; i++) {
      expect((await send(api.url, LogoutOthersDocument, {}, { token: holder.accessToken })).data?.logoutOthers).toBe(0);
    }
    await login(api.url, email, undefined, "tablet");
    expect((await send(api.url, LogoutOthersDocument, {}, { token: holder.accessToken })).data?.logoutOthers).toBe(1);

    const events = await settled(() => history(holder.accessToken), (events) => events.some((event) => event.type === "SIGNED_OUT"));
    expect(events.map((event) => event.type)).toEqual(["SIGNED_OUT", "SIGNED_IN", "SIGNED_IN"]);
  });
});
