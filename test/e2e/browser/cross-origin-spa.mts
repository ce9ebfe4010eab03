import { createAuthClient, type AuthEvent } from "@revocable-auth/client";

// The SPA recipe of docs/clients.md ("A SPA on another origin"): the page is on one origin and
// the API on another, which lists the page in CORS_ORIGINS. The client is given the API's absolute
// URL; in a browser it keeps the refresh token in the API's HttpOnly cookie, sent cross-origin
// (credentials: "include"), and opens the live socket on the same URL.
// (Here the test passes the API's URL in the query; an app would have it in its build's config.)
const { location } = globalThis as unknown as { location: { href: string } };
const api = new URL(location.href).searchParams.get("api")!;
const auth = createAuthClient({ url: api, device: "cross-origin SPA" });

const events: { event: AuthEvent; reason: string | null }[] = [];
auth.onAuthStateChange((event, detail) => events.push({ event, reason: detail.reason ?? null }));

// For the browser test only: an app would not hand its client to every script on the page.
(globalThis as unknown as { spa: object }).spa = {
  signIn: (email: string, password: string) => auth.signIn({ email, password }).then((user) => user.email),
  token: () => auth.getAccessToken(),
  me: () => auth.request<{ me: { email: string } }>("{ me { email } }").then((data) => data.me.email),
  status: () => auth.state.status,
  events: () => events,
};
