import {
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
  RegisterDocument,
  UsersDocument,
} from "../../schema/generated/graphql";
import { OWASP_HASHING } from "../../src/auth/accounts/passwords";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, post, register, send, uniqueEmail } from "../support/client";
import { startStore, type StoreBackend, type StoreMode } from "../support/stores";

describe.each<[StoreMode]>([["redis"], ["cluster"], ["memory"], ["postgres"]])("auth flow on the %s store", (storeKind) => {
  let backend: StoreBackend;
  let api: TestApi;
  const ADMIN_EMAIL = uniqueEmail("admin");
  beforeAll(async () => {
    backend = await startStore(storeKind);
    // Strict rotation: the grace window has its own suite (refresh-grace.test.ts).
    api = await startApi(null, { ...backend.env, ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, REFRESH_REUSE_GRACE_SECONDS: "0" });
  });
  afterAll(async () => {
    await api.stop();
    await backend.destroy();
  });

  describe("register", () => {
    it("creates a USER, lower-cases the email and returns a usable session", async () => {
      const email = uniqueEmail("Mixed.Case").replace("example", "EXAMPLE");
      const payload = await register(api.url, { email, device: "laptop" });
      expect(payload.user).toMatchObject({ email: email.toLowerCase(), roles: ["USER"], disabled: false });
      expect(payload.tokenType).toBe("Bearer");
      expect(payload.refreshToken).toEqual(expect.any(String));
      expect(new Date(payload.accessTokenExpiresAt).getTime() - Date.now()).toBeGreaterThan(800_000);
      expect(new Date(payload.refreshTokenExpiresAt).getTime()).toBeGreaterThan(new Date(payload.accessTokenExpiresAt).getTime());
      const me = await send(api.url, MeDocument, {}, { token: payload.accessToken });
      expect(me.data?.me).toEqual(payload.user);
    });

    it("issues an access token with the documented claims and an at+jwt type", async () => {
      const payload = await register(api.url);
      const [header, body] = payload.accessToken.split(".").slice(0, 2).map((part) => JSON.parse(Buffer.from(part, "base64url").toString()));
      // Issue 11: every token names its key.
      expect(header).toEqual({ alg: "HS256", typ: "at+jwt", kid: expect.stringMatching(/^hs-[A-Za-z0-9_-]{16}$/) });
      expect(body).toMatchObject({ sub: payload.user.id, sid: payload.sessionId, roles: ["USER"], iss: api.config.jwt.issuer, aud: api.config.jwt.audience });
      expect(Buffer.from(body.jti, "base64url").length).toBeGreaterThanOrEqual(16);
      expect(body.exp - body.iat).toBe(900);
    });

    it("refuses an email that exists, in any letter case", async () => {
      const email = uniqueEmail();
      await register(api.url, { email });
      const again = await send(api.url, RegisterDocument, { input: { email: email.toUpperCase(), password: PASSWORD } });
      expect(again.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "EMAIL_TAKEN" });
      expect(again.error?.message).toMatch(/already exists/);
    });

    it.each([
      ["an email that is not one", { email: "not-an-email", password: PASSWORD }, /email/],
      ["a password under 8 characters", { email: "a@example.com", password: "short" }, /password/],
      ["a password over 128 characters", { email: "a@example.com", password: "x".repeat(129) }, /password/],
      ["a device name over 100 characters", { email: "a@example.com", password: PASSWORD, device: "d".repeat(101) }, /device/],
      ["a huge email", { email: `${"e".repeat(5000)}@example.com`, password: PASSWORD }, /email/],
    ])("answers BAD_USER_INPUT naming the field for %s, without echoing values", async (_, input, field) => {
      const result = await send(api.url, RegisterDocument, { input });
      expect(result.status).toBe(200);
      expect(result.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
      expect(result.error?.message).toMatch(field);
      expect(JSON.stringify(result.errors)).not.toContain(input.password);
    });

    it("answers 400 for arguments of the wrong type", async () => {
      const result = await post(api.url, { query: "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }", variables: { i: { email: 42, password: ["x"] } } });
      expect(result.status).toBe(400);
      expect(result.error?.code).toBe("BAD_USER_INPUT");
    });

    it("answers 413 for a body over the size limit", async () => {
      const result = await post(api.url, { query: "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }", variables: { i: { email: "a@example.com", password: "p".repeat(200_000) } } });
      expect(result.status).toBe(413);
      expect(result.error?.code).toBe("BAD_REQUEST");
    });

    it("answers 400 with GRAPHQL_PARSE_FAILED for a syntax error", async () => {
      const result = await post(api.url, { query: "{ me { email }" });
      expect(result.status).toBe(400);
      expect(result.error?.code).toBe("GRAPHQL_PARSE_FAILED");
    });

    it.each([
      ["aliases", `mutation { a: register(input: {email: "x1@example.com", password: "${PASSWORD}"}) { sessionId } b: register(input: {email: "x2@example.com", password: "${PASSWORD}"}) { sessionId } }`],
      ["a fragment", `mutation { login(input: {email: "x@example.com", password: "${PASSWORD}"}) { sessionId } ...More } fragment More on Mutation { again: login(input: {email: "x@example.com", password: "${PASSWORD}"}) { sessionId } }`],
    ])("refuses more than one credential mutation per request, even through %s", async (_, query) => {
      const result = await post(api.url, { query });
      expect(result.status).toBe(400);
      expect(result.error?.code).toBe("GRAPHQL_VALIDATION_FAILED");
      expect(await send(api.url, LoginDocument, { input: { email: "x1@example.com", password: PASSWORD } })).toMatchObject({ error: { reason: "INVALID_CREDENTIALS" } });
    });

    it("answers 400 for a body that is not JSON", async () => {
      const result = await post(api.url, "{not json");
      expect(result.status).toBe(400);
    });
  });

  describe("login", () => {
    it("starts a new session for a registered user, with any letter case of the email", async () => {
      const registered = await register(api.url);
      const payload = await login(api.url, registered.user.email.toUpperCase(), PASSWORD, "phone");
      expect(payload.user.id).toBe(registered.user.id);
      expect(payload.sessionId).not.toBe(registered.sessionId);
    });

    it("answers a wrong password and an unknown email with the same error", async () => {
      const registered = await register(api.url);
      const wrong = await send(api.url, LoginDocument, { input: { email: registered.user.email, password: "wrong password" } });
      const unknown = await send(api.url, LoginDocument, { input: { email: uniqueEmail("nobody"), password: "wrong password" } });
      expect(wrong.error).toEqual({ code: "UNAUTHENTICATED", reason: "INVALID_CREDENTIALS", message: "Invalid email or password" });
      expect(unknown.error).toEqual(wrong.error);
      expect(unknown.status).toBe(wrong.status);
    });

    it("takes about as long for an unknown email as for a wrong password", async () => {
      // At argon2's real cost (this suite's server hashes cheaply): a shortcut for unknown emails
      // would then be most of a login's time, not lost in the noise of HTTP.
      const real = await startApi(null, { ...backend.env, REFRESH_REUSE_GRACE_SECONDS: "0" }, { passwordHashing: OWASP_HASHING });
      try {
        const registered = await register(real.url);
        // The CPU this process spent on the login (the server is in it, argon2 on libuv's pool
        // included), not the wall time: on a loaded machine other processes' work lands in wall
        // time, and a run failed at 2.4x on that alone. The work done is what a shortcut would change.
        const time = async (email: string) => {
          const before = process.cpuUsage();
          await send(real.url, LoginDocument, { input: { email, password: "wrong password" } });
          const used = process.cpuUsage(before);
          return (used.user + used.system) / 1000;
        };
        const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
        const wrong: number[] = [];
        const unknown: number[] = [];
        for (let i = 0; i < 7; i++) {
          wrong.push(await time(registered.user.email));
          unknown.push(await time(uniqueEmail("ghost")));
        }
        const ratio = median(unknown) / median(wrong);
        expect(ratio).toBeGreaterThan(0.5);
        expect(ratio).toBeLessThan(2);
      } finally {
        await real.stop();
      }
    });
  });

  describe("refresh", () => {
    it("rotates the refresh token: new tokens, same session, and the old refresh token stops working", async () => {
      const registered = await register(api.url);
      const refreshed = await send(api.url, RefreshDocument, { refreshToken: registered.refreshToken! });
      const next = refreshed.data!.refresh;
      expect(next.sessionId).toBe(registered.sessionId);
      expect(next.refreshToken).not.toBe(registered.refreshToken);
      expect(next.accessToken).not.toBe(registered.accessToken);
      expect((await send(api.url, MeDocument, {}, { token: next.accessToken })).data?.me.id).toBe(registered.user.id);

      const replay = await send(api.url, RefreshDocument, { refreshToken: registered.refreshToken! });
      expect(replay.error?.code).toBe("UNAUTHENTICATED");
    });

    it("refuses an unknown, garbage or access token as a refresh token", async () => {
      const registered = await register(api.url);
      for (const refreshToken of ["garbage", registered.accessToken, "a.b.c", "x".repeat(10_000)]) {
        const result = await send(api.url, RefreshDocument, { refreshToken });
        expect(result.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_TOKEN" });
      }
    });

    it("refuses the refresh token of a logged-out session", async () => {
      const registered = await register(api.url);
      await send(api.url, LogoutDocument, {}, { token: registered.accessToken });
      const result = await send(api.url, RefreshDocument, { refreshToken: registered.refreshToken! });
      expect(result.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
    });
  });

  describe("logout", () => {
    it("refuses the logged-out access token on the very next request, with 401 and TOKEN_REVOKED", async () => {
      const registered = await register(api.url);
      expect((await send(api.url, LogoutDocument, {}, { token: registered.accessToken })).data?.logout).toBe(true);
      const after = await send(api.url, MeDocument, {}, { token: registered.accessToken });
      expect(after.status).toBe(401);
      expect(after.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
      expect(after.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
      expect(after.data).toBeUndefined();
    });

    it("leaves the user's other sessions working", async () => {
      const registered = await register(api.url);
      const other = await login(api.url, registered.user.email);
      await send(api.url, LogoutDocument, {}, { token: registered.accessToken });
      expect((await send(api.url, MeDocument, {}, { token: other.accessToken })).data?.me.id).toBe(registered.user.id);
      expect((await send(api.url, RefreshDocument, { refreshToken: other.refreshToken! })).data?.refresh.sessionId).toBe(other.sessionId);
    });

    it("requires login", async () => {
      const result = await send(api.url, LogoutDocument, {});
      expect(result.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "AUTHENTICATION_REQUIRED" });
    });
  });

  describe("authorization", () => {
    it("refuses protected queries to anonymous callers with UNAUTHENTICATED", async () => {
      for (const result of [await send(api.url, MeDocument, {}), await send(api.url, UsersDocument, {})]) {
        expect(result.error?.code).toBe("UNAUTHENTICATED");
        expect(result.status).toBe(200);
      }
    });

    it("lets anonymous callers run public operations", async () => {
      const result = await post(api.url, { query: "{ __typename }" });
      expect(result.data).toEqual({ __typename: "Query" });
    });

    it("refuses users to a USER with FORBIDDEN", async () => {
      const registered = await register(api.url);
      const result = await send(api.url, UsersDocument, {}, { token: registered.accessToken });
      expect(result.error).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_ROLE" });
    });

    it("lists users to the admin created from ADMIN_EMAIL and ADMIN_PASSWORD", async () => {
      const registered = await register(api.url);
      const admin = await login(api.url, ADMIN_EMAIL);
      expect(admin.user.roles).toEqual(["USER", "ADMIN"]);
      const result = await send(api.url, UsersDocument, { first: 100 }, { token: admin.accessToken });
      const emails = result.data!.users.edges.map((edge) => edge.node.email);
      expect(emails).toEqual(expect.arrayContaining([ADMIN_EMAIL, registered.user.email]));
      expect(JSON.stringify(result.data)).not.toMatch(/argon2/);
    });
  });

  describe("users, a page at a time", () => {
    let adminToken: string;
    beforeAll(async () => {
      adminToken = (await login(api.url, ADMIN_EMAIL)).accessToken;
      await Promise.all([1, 2, 3].map(() => register(api.url)));
    });
    const page = (variables: { first?: number | null; after?: string | null }) => send(api.url, UsersDocument, variables, { token: adminToken });

    it("walks every user once, oldest first, following endCursor, while users register", async () => {
      const seen: string[] = [];
      const registeredDuring: string[] = [];
      let after: string | null = null;
      let totalCount = 0;
      for (let pages = 0; pages < 200; pages++) {
        const result = await page({ first: 2, after });
        const users = result.data!.users;
        expect(users.edges.length).toBeLessThanOrEqual(2);
        seen.push(...users.edges.map((edge) => edge.node.id));
        totalCount = users.totalCount;
        if (!users.pageInfo.hasNextPage) break;
        expect(users.pageInfo.endCursor).toBe(users.edges.at(-1)!.cursor);
        if (registeredDuring.length < 2) registeredDuring.push((await register(api.url)).user.id);
        after = users.pageInfo.endCursor!;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBe(totalCount);
      expect(seen.slice(-2)).toEqual(registeredDuring);
    });

    it("gives 50 by default, and the same users under nodes as under edges", async () => {
      await Promise.all(Array.from({ length: 48 }, () => register(api.url)));
      const result = await post<{ users: { nodes: { id: string }[]; edges: { node: { id: string } }[]; totalCount: number } }>(
        api.url,
        { query: "{ users { nodes { id } edges { node { id } } totalCount } }" },
        { token: adminToken },
      );
      const users = result.data!.users;
      expect(users.totalCount).toBeGreaterThan(50);
      expect(users.nodes).toHaveLength(50);
      expect(users.nodes).toEqual(users.edges.map((edge) => edge.node));
    });

    it.each([[0], [-1], [101], [10_000]])("refuses first: %d with BAD_USER_INPUT", async (first) => {
      const result = await page({ first });
      expect(result.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
      expect(result.error?.message).toMatch(/first must be from 1 to 100/);
    });

    it.each([["garbage!"], ["bm90LWpzb24"], [Buffer.from('["x","y"]').toString("base64url")], ["a".repeat(5000)]])(
      "refuses a cursor it did not make (%s) with BAD_USER_INPUT",
      async (after) => {
        const result = await page({ first: 5, after });
        expect(result.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
        expect(result.error?.message).toMatch(/after must be a cursor/);
      },
    );
  });
});
