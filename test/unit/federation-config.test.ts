import { ConfigError, loadConfig } from "../../src/config";
import { allowedRedirect } from "../../src/auth/federation/redirects";

const base = { JWT_SECRET: "s".repeat(32) };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("OIDC_PROVIDERS configuration", () => {
  it("has no providers by default, and allows APP_URL and this API's own origin as redirects", () => {
    const { federation } = loadConfig({ ...base, PORT: "4100" });
    expect(federation.providers).toEqual([]);
    expect(federation.publicUrl).toBe("http://localhost:4100");
    expect(federation.allowedRedirectUrls).toEqual(["http://localhost:3000/*", "http://localhost:4100/*"]);
  });

  it("reads each named provider, with presets for google and github", () => {
    const { federation } = loadConfig({
      ...base,
      OIDC_PROVIDERS: "google, Corp,github",
      OIDC_GOOGLE_CLIENT_ID: "g-id",
      OIDC_GOOGLE_CLIENT_SECRET: "g-secret",
      OIDC_CORP_ISSUER: "http://localhost:9000/",
      OIDC_CORP_CLIENT_ID: "c-id",
      OIDC_CORP_CLIENT_SECRET: "c-secret",
      OIDC_CORP_SCOPES: "openid email",
      OIDC_CORP_LABEL: "Corp SSO",
      OIDC_GITHUB_CLIENT_ID: "gh-id",
      OIDC_GITHUB_CLIENT_SECRET: "gh-secret",
      OIDC_GITHUB_API_URL: "http://localhost:9100/",
    });
    expect(federation.providers).toEqual([
      { id: "google", kind: "oidc", label: "Google", clientId: "g-id", clientSecret: "g-secret", scopes: "openid email profile", issuer: "https://accounts.google.com", responseMode: "query" },
      { id: "corp", kind: "oidc", label: "Corp SSO", clientId: "c-id", clientSecret: "c-secret", scopes: "openid email", issuer: "http://localhost:9000/", responseMode: "query" },
      {
        id: "github",
        kind: "github",
        label: "GitHub",
        clientId: "gh-id",
        clientSecret: "gh-secret",
        scopes: "read:user user:email",
        authorizationUrl: "https://github.com/login/oauth/authorize",
        tokenUrl: "https://github.com/login/oauth/access_token",
        apiUrl: "http://localhost:9100",
      },
    ]);
  });

  it("keeps an issuer exactly as written, a trailing slash included: discovery requires the provider's issuer to be the same string", () => {
    const issuer = "https://login.microsoftonline.com/0b5e0b5e-tenant/v2.0/";
    const { federation } = loadConfig({ ...base, OIDC_PROVIDERS: "microsoft", OIDC_MICROSOFT_ISSUER: issuer, OIDC_MICROSOFT_CLIENT_ID: "m-id", OIDC_MICROSOFT_CLIENT_SECRET: "m-secret" });
    expect(federation.providers.map((provider) => provider.kind === "oidc" && provider.issuer)).toEqual([issuer]);
  });

  it("refuses a provider without an issuer, client id or secret, a bad name, a twice-named one and scopes without openid", () => {
    expect(problemsOf({ OIDC_PROVIDERS: "corp,bad-name,corp", OIDC_CORP_SCOPES: "email" })).toEqual([
      "OIDC_CORP_CLIENT_ID is required for the provider \"corp\" of OIDC_PROVIDERS",
      "OIDC_CORP_CLIENT_SECRET is required for the provider \"corp\" of OIDC_PROVIDERS",
      "OIDC_CORP_SCOPES must include openid, got \"email\"",
      "OIDC_CORP_ISSUER is required for the provider \"corp\" of OIDC_PROVIDERS",
      expect.stringContaining("OIDC_PROVIDERS: \"bad-name\" must be letters and digits only"),
      "OIDC_PROVIDERS names \"corp\" twice",
    ]);
  });

  it("answers Apple's callback as a form POST by default, any provider's with OIDC_<N>_RESPONSE_MODE=form_post, and refuses another mode", () => {
    const { federation } = loadConfig({
      ...base,
      OIDC_PROVIDERS: "apple,corp",
      OIDC_APPLE_CLIENT_ID: "a-id",
      OIDC_APPLE_CLIENT_SECRET: "a-secret",
      OIDC_CORP_ISSUER: "http://localhost:9000",
      OIDC_CORP_CLIENT_ID: "c-id",
      OIDC_CORP_CLIENT_SECRET: "c-secret",
      OIDC_CORP_RESPONSE_MODE: "form_post",
    });
    expect(federation.providers.map((provider) => provider.kind === "oidc" && [provider.id, provider.issuer, provider.responseMode])).toEqual([
      ["apple", "https://appleid.apple.com", "form_post"],
      ["corp", "http://localhost:9000", "form_post"],
    ]);
    const corp = { OIDC_PROVIDERS: "corp", OIDC_CORP_ISSUER: "http://localhost:9000", OIDC_CORP_CLIENT_ID: "id", OIDC_CORP_CLIENT_SECRET: "secret" };
    expect(problemsOf({ ...corp, OIDC_CORP_RESPONSE_MODE: "fragment" })).toEqual(["OIDC_CORP_RESPONSE_MODE must be query or form_post, got \"fragment\""]);
  });

  it("refuses an http issuer that is not loopback, and http anywhere in production", () => {
    const corp = { OIDC_PROVIDERS: "corp", OIDC_CORP_CLIENT_ID: "id", OIDC_CORP_CLIENT_SECRET: "secret" };
    expect(problemsOf({ ...corp, OIDC_CORP_ISSUER: "http://idp.example.com" })).toEqual([
      "OIDC_CORP_ISSUER must be https (http only for localhost outside production), got \"http://idp.example.com\"",
    ]);
    expect(problemsOf({ ...corp, OIDC_CORP_ISSUER: "https://idp.example.com?x=1" })).toEqual([
      "OIDC_CORP_ISSUER must have no query, fragment or credentials, got \"https://idp.example.com?x=1\"",
    ]);
    expect(problemsOf({ ...corp, OIDC_CORP_ISSUER: "http://localhost:9000", NODE_ENV: "production" })).toContain(
      "OIDC_CORP_ISSUER must be https (http only for localhost outside production), got \"http://localhost:9000\"",
    );
  });

  it("refuses a malformed ALLOWED_REDIRECT_URLS or PUBLIC_URL", () => {
    expect(problemsOf({ ALLOWED_REDIRECT_URLS: "https://app.example.com/*,javascript:alert(1)" })).toEqual([
      expect.stringContaining("ALLOWED_REDIRECT_URLS must be comma-separated http(s) URLs"),
    ]);
    expect(problemsOf({ PUBLIC_URL: "ftp://api.example.com" })).toEqual([expect.stringContaining("PUBLIC_URL must be this API's origin")]);
  });
});

describe("ALLOWED_REDIRECT_URLS matching", () => {
  const allowed = ["https://app.example.com/auth/*", "https://other.example.com/done", "https://third.example.com/app*"];

  it("allows an exact entry and any path under a prefix entry, with a query", () => {
    expect(allowedRedirect("https://app.example.com/auth/done?next=%2F", allowed)?.href).toBe("https://app.example.com/auth/done?next=%2F");
    expect(allowedRedirect("https://other.example.com/done", allowed)).not.toBeNull();
    expect(allowedRedirect("https://third.example.com/app", allowed)).not.toBeNull();
    expect(allowedRedirect("https://third.example.com/app/signed-in", allowed)).not.toBeNull();
  });

  it.each([
    ["another origin", "https://evil.example.com/auth/done"],
    ["a look-alike host", "https://app.example.com.evil.example/auth/"],
    ["credentials before the host", "https://app.example.com@evil.example/auth/"],
    ["a path outside the prefix", "https://app.example.com/other"],
    ["a path climbing out of the prefix", "https://app.example.com/auth/../admin"],
    ["another path than an exact entry", "https://other.example.com/done/more"],
    ["another scheme", "http://app.example.com/auth/done"],
    ["a javascript: URL", "javascript:alert(1)"],
    ["a protocol-relative URL", "//evil.example.com/auth/"],
    ["a fragment", "https://app.example.com/auth/done#x"],
    ["a sibling path of a prefix without a slash", "https://third.example.com/app-evil/done"],
  ])("refuses %s", (_name, candidate) => {
    expect(allowedRedirect(candidate, allowed)).toBeNull();
  });
});
