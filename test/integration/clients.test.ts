import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { CombinedGraphQLErrors } from "@apollo/client/errors";
import pino from "pino";
import { createApiClient, type Session } from "../../examples/clients/urql";
import { LoginDocument, LogoutDocument, MeDocument, RegisterDocument } from "../../schema/generated/graphql";
import { loadConfig } from "../../src/config";
import { startServer, type RunningServer } from "../../src/server";
import { testEnv } from "../support/api";
import { PASSWORD, register, uniqueEmail } from "../support/client";

// graphql-request ships CommonJS code but only ESM type declarations: the types come from its ESM entry.
type GraphQLRequest = typeof import("graphql-request", { with: { "resolution-mode": "import" } });
const { ClientError, GraphQLClient } = require("graphql-request") as GraphQLRequest;

const ACCESS_TOKEN_TTL = 60;

/** Real time plus an offset the test moves, so an access token expires without the test sleeping. */
const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };

interface SentRequest {
  readonly method: string;
  readonly operationName: string | undefined;
  readonly authorization: string | null;
}

/** fetch that records what each client actually sends, and passes it on unchanged. */
function recordingFetch(sent: SentRequest[]): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const body = request.method === "POST" ? JSON.parse(await request.clone().text()) : null;
    const operationName = body?.operationName ?? url.searchParams.get("operationName") ?? undefined;
    sent.push({ method: request.method, operationName, authorization: request.headers.get("authorization") });
    return fetch(request);
  };
}

let server: RunningServer;
beforeAll(async () => {
  const config = loadConfig(testEnv(null, { ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL) }));
  server = await startServer(config, { logger: pino({ level: "silent" }), clock });
});
afterAll(() => server.stop());

describe("urql with its defaults and the auth exchange (examples/clients/urql.ts)", () => {
  it("is the code docs/clients.md shows, character for character", () => {
    const root = resolve(__dirname, "../..");
    const example = readFileSync(resolve(root, "examples/clients/urql.ts"), "utf8");
    const docs = readFileSync(resolve(root, "docs/clients.md"), "utf8");
    const quoted = /```ts file=examples\/clients\/urql\.ts\n([\s\S]*?)```/.exec(docs);
    expect(quoted?.[1]).toBe(example);
  });

  it("registers, reads me over GET, refreshes once when the token expires, and surfaces TOKEN_REVOKED after logout", async () => {
    const sent: SentRequest[] = [];
    const session: Session = { accessToken: null, refreshToken: null };
    const client = createApiClient(server.url, session, recordingFetch(sent));
    const email = uniqueEmail("urql");

    const registered = await client.mutation(RegisterDocument, { input: { email, password: PASSWORD, device: "urql" } }).toPromise();
    expect(registered.error).toBeUndefined();
    session.accessToken = registered.data!.register.accessToken;
    session.refreshToken = registered.data!.register.refreshToken ?? null;

    const me = await client.query(MeDocument, {}, { requestPolicy: "network-only" }).toPromise();
    expect(me.error).toBeUndefined();
    expect(me.data?.me.email).toBe(email);
    expect(sent.at(-1)).toEqual({ method: "GET", operationName: "Me", authorization: `Bearer ${registered.data!.register.accessToken}` });

    clock.offsetMs += (ACCESS_TOKEN_TTL + 5) * 1000;
    sent.length = 0;
    const afterExpiry = await client.query(MeDocument, {}, { requestPolicy: "network-only" }).toPromise();
    expect(afterExpiry.error).toBeUndefined();
    expect(afterExpiry.data?.me.email).toBe(email);
    expect(sent.map((r) => `${r.method} ${r.operationName}`)).toEqual(["GET Me", "POST Refresh", "GET Me"]);
    expect(sent[1].authorization).toBeNull(); // the refresh is not sent with the expired token
    expect(session.accessToken).not.toBe(registered.data!.register.accessToken);

    const loggedOut = await client.mutation(LogoutDocument, {}).toPromise();
    expect(loggedOut.data?.logout).toBe(true);

    sent.length = 0;
    const revoked = await client.query(MeDocument, {}, { requestPolicy: "network-only" }).toPromise();
    expect(revoked.error?.graphQLErrors.map((e) => e.extensions?.reason)).toEqual(["TOKEN_REVOKED"]);
    expect(sent.map((r) => `${r.method} ${r.operationName}`)).toEqual(["GET Me"]); // no refresh, no retry
  });

  it("logs in with the refresh cookie and refreshes through it when the fetch keeps cookies", async () => {
    const { email } = (await register(server.url)).user;
    const sent: SentRequest[] = [];
    let cookie: string | null = null;
    const record = recordingFetch(sent);
    const cookieJar: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      if (cookie) request.headers.set("cookie", cookie);
      const response = await record(request);
      const setCookie = response.headers.get("set-cookie");
      if (setCookie) cookie = setCookie.split(";")[0];
      return response;
    };
    const session: Session = { accessToken: null, refreshToken: null };
    const client = createApiClient(server.url, session, cookieJar);

    const loggedIn = await client.mutation(LoginDocument, { input: { email, password: PASSWORD, refreshTokenInCookie: true } }).toPromise();
    expect(loggedIn.data?.login.refreshToken).toBeNull();
    session.accessToken = loggedIn.data!.login.accessToken;

    clock.offsetMs += (ACCESS_TOKEN_TTL + 5) * 1000;
    sent.length = 0;
    const me = await client.query(MeDocument, {}, { requestPolicy: "network-only" }).toPromise();
    expect(me.data?.me.email).toBe(email);
    expect(sent.map((r) => `${r.method} ${r.operationName}`)).toEqual(["GET Me", "POST RefreshWithCookie", "GET Me"]);
  });

  it("still refuses a simple cross-site GET: no Authorization header, no preflighted header, no JSON content type", async () => {
    const url = new URL(server.url);
    url.searchParams.set("query", "{ __typename }");
    const response = await fetch(url);
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/Cross-Site Request Forgery/);
  });
});

describe("Apollo Client (core, no React) with its defaults", () => {
  it("logs in, reads me, and surfaces TOKEN_REVOKED after logout", async () => {
    const { email } = (await register(server.url)).user;
    const sent: SentRequest[] = [];
    let accessToken: string | null = null;
    const auth = new ApolloLink((operation, forward) => {
      if (accessToken) operation.setContext({ headers: { authorization: `Bearer ${accessToken}` } });
      return forward(operation);
    });
    const client = new ApolloClient({
      link: ApolloLink.from([auth, new HttpLink({ uri: server.url, fetch: recordingFetch(sent) })]),
      cache: new InMemoryCache(),
    });

    const loggedIn = await client.mutate({ mutation: LoginDocument, variables: { input: { email, password: PASSWORD } } });
    accessToken = loggedIn.data!.login.accessToken;
    const me = await client.query({ query: MeDocument, fetchPolicy: "network-only" });
    expect(me.data?.me.email).toBe(email);
    expect(sent.at(-1)?.method).toBe("POST");

    await client.mutate({ mutation: LogoutDocument });
    const refused = await client.query({ query: MeDocument, fetchPolicy: "network-only", errorPolicy: "all" });
    expect(CombinedGraphQLErrors.is(refused.error)).toBe(true);
    expect((refused.error as CombinedGraphQLErrors).errors.map((e) => e.extensions?.reason)).toEqual(["TOKEN_REVOKED"]);
  });
});

describe("graphql-request with its defaults", () => {
  it("logs in, reads me, and surfaces TOKEN_REVOKED after logout", async () => {
    const { email } = (await register(server.url)).user;
    const sent: SentRequest[] = [];
    const client = new GraphQLClient(server.url, { fetch: recordingFetch(sent) });

    const { login } = await client.request(LoginDocument, { input: { email, password: PASSWORD } });
    client.setHeader("authorization", `Bearer ${login.accessToken}`);
    const { me } = await client.request(MeDocument);
    expect(me.email).toBe(email);
    expect(sent.at(-1)?.method).toBe("POST");

    await client.request(LogoutDocument);
    const refused = await client.request(MeDocument).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ClientError);
    expect((refused as InstanceType<typeof ClientError>).response.errors?.map((e) => e.extensions?.reason)).toEqual(["TOKEN_REVOKED"]);
  });
});
