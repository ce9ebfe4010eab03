import { AuthClientError, createAuthClient, type SessionEvent } from "@revocable-auth/client";

// Same origin as the page: the proxy in ../server.ts forwards /graphql (HTTP and WebSocket) to the
// API, so the API's SameSite=Strict, Path=/graphql refresh cookie is first-party here.
// Not put on window, where every script of the page, and every extension's, would find a ready
// getAccessToken(). The module export is for the end-to-end test; it hides nothing from script of
// this origin, which can import it too (docs/security.md: what the refresh cookie protects).
export const auth = createAuthClient({ url: "/graphql", device: "web example" });

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>("sign-in");

interface Me {
  me: { email: string };
  sessions: { id: string; device: string | null; createdAt: string; current: boolean }[];
}

function log(line: string) {
  const item = document.createElement("li");
  item.textContent = line;
  $("events").append(item);
}

function notice(text: string) {
  $("notice").textContent = text;
  $("notice").hidden = false;
}

async function render() {
  const signedIn = auth.state.status === "signedIn";
  form.hidden = signedIn;
  $("account").hidden = !signedIn;
  if (!signedIn) {
    $("status").textContent = auth.state.status === "signedOut" ? "Signed out." : "Checking for a session…";
    return;
  }
  try {
    const data = await auth.request<Me>("{ me { email } sessions { id device createdAt current } }");
    if (auth.state.status !== "signedIn") return; // signed out meanwhile: that change renders itself
    $("email").textContent = data.me.email;
    $("sessions").replaceChildren(
      ...data.sessions.map((session) => {
        const item = document.createElement("li");
        item.className = session.current ? "current" : "";
        item.textContent = `${session.device ?? "unnamed device"} · since ${new Date(session.createdAt).toLocaleString()}${session.current ? " (this browser)" : ""}`;
        return item;
      }),
    );
    $("status").textContent = "Signed in.";
  } catch (error) {
    if (auth.state.status === "signedIn") $("status").textContent = describe(error);
  }
}

function describe(error: unknown): string {
  return error instanceof AuthClientError ? `${error.message} (${error.reason})` : String(error);
}

const SESSION_EVENT_TEXT: Record<string, (event: SessionEvent) => string> = {
  SIGNED_IN: (event) => `Signed in on another device: ${event.device ?? "unnamed device"}`,
  SESSION_ENDED: (event) => `Another session of yours ended (${event.reason ?? "signed out"})`,
  PASSWORD_CHANGED: () => "Your password was changed",
  ROLES_CHANGED: () => "Your roles changed",
  IDENTITY_LINKED: (event) => `A ${event.provider ?? "provider"} sign-in was linked to your account`,
  IDENTITY_UNLINKED: (event) => `A ${event.provider ?? "provider"} sign-in was unlinked from your account`,
};

auth.onAuthStateChange((event, detail) => {
  log(detail.reason ? `${event} ${detail.reason}` : event);
  if (event === "SIGNED_OUT" && detail.reason !== "NO_SESSION") notice(`Signed out: ${detail.reason}`);
  if (event === "SIGNED_IN") $("notice").hidden = true;
  void render();
});

auth.onSessionEvent((event) => {
  log(`sessionEvents ${event.type}`);
  notice((SESSION_EVENT_TEXT[event.type] ?? ((e) => e.type))(event));
  void render();
});

async function start(action: "signIn" | "register") {
  const fields = new FormData(form);
  try {
    await auth[action]({ email: String(fields.get("email")), password: String(fields.get("password")) });
  } catch (error) {
    if (auth.state.status === "signedIn") $("status").textContent = describe(error);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  void start("signIn");
});
$("register").addEventListener("click", () => void start("register"));
$("sign-out").addEventListener("click", () => void auth.signOut().catch((error) => ($("status").textContent = describe(error))));
$("sign-out-everywhere").addEventListener("click", () => void auth.signOutEverywhere().catch((error) => ($("status").textContent = describe(error))));

// A new tab: the refresh cookie, if any, tells whether this browser is signed in.
auth
  .getAccessToken()
  .catch((error) => ($("status").textContent = describe(error)))
  .finally(() => void render());
