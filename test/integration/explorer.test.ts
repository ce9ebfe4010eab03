import { MeDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { post, register, send } from "../support/client";

/** What Chromium sends when a person opens a URL. */
const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
const INTROSPECTION = { query: "{ __schema { queryType { name } } }" };

function openInBrowser(api: TestApi, path = "/graphql"): Promise<Response> {
  return fetch(new URL(path, api.url), { headers: { accept: BROWSER_ACCEPT } });
}

/** Every src and href of the page, in order. */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
}

/** Every absolute http(s) URL in a text, and every CSS url() or @import that is not a data: URL. */
function remoteReferencesIn(text: string, ownOrigin: string): string[] {
  const absolute = [...text.matchAll(/https?:\/\/[^\s"'()<>]+/g)].map((match) => match[0]).filter((url) => new URL(url).origin !== ownOrigin);
  const cssUrls = [...text.matchAll(/url\(\s*["']?([^"')]+)/g)].map((match) => match[1]!).filter((url) => !url.startsWith("data:"));
  const imports = [...text.matchAll(/@import[^;]*/g)].map((match) => match[0]);
  return [...absolute, ...cssUrls, ...imports];
}

describe("the explorer, when EXPLORER=on", () => {
  let api: TestApi;
  let origin: string;
  beforeAll(async () => {
    api = await startApi(null, { EXPLORER: "on" });
    origin = new URL(api.url).origin;
  });
  afterAll(() => api.stop());

  it("is served to a browser at GET /graphql as HTML under a self-only content security policy", async () => {
    const response = await openInBrowser(api);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const policy = response.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).not.toMatch(/unsafe|https?:|\*/);
    expect(await response.text()).toContain('<div id="graphiql">');
  });

  it("serves every asset the page references itself, with the right content type", async () => {
    const assets = assetsOf(await (await openInBrowser(api)).text());
    expect(assets).toEqual(expect.arrayContaining(["/explorer/graphiql.js", "/explorer/graphiql.css", "/explorer/react.js", "/explorer/react-dom.js"]));
    for (const asset of assets.filter((url) => !url.startsWith("data:"))) {
      const response = await fetch(new URL(asset, origin));
      expect({ asset, status: response.status }).toEqual({ asset, status: 200 });
      const expected = asset.endsWith(".css") ? /^text\/css/ : /^text\/javascript/;
      expect(response.headers.get("content-type")).toMatch(expected);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect((await response.text()).length).toBeGreaterThan(0);
    }
  });

  it("references no other host from the page or its stylesheets: fonts are embedded", async () => {
    const html = await (await openInBrowser(api)).text();
    expect(remoteReferencesIn(html, origin)).toEqual([]);
    for (const sheet of assetsOf(html).filter((url) => url.endsWith(".css"))) {
      const css = await (await fetch(new URL(sheet, origin))).text();
      expect({ sheet, remote: remoteReferencesIn(css, origin) }).toEqual({ sheet, remote: [] });
    }
  });

  it("leaves POSTs and non-HTML GETs to the GraphQL endpoint", async () => {
    const user = await register(api.url);
    expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).data?.me.email).toBe(user.user.email);
    const get = await fetch(`${api.url}?query=${encodeURIComponent("{ __typename }")}`, {
      headers: { accept: "application/json", "apollo-require-preflight": "true" },
    });
    expect(get.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await get.json()).toEqual({ data: { __typename: "Query" } });
  });

  it("allows introspection, which the explorer's docs and completion need", async () => {
    const result = await post<{ __schema: { queryType: { name: string } } }>(api.url, INTROSPECTION);
    expect(result.data?.__schema.queryType.name).toBe("Query");
  });
});

describe("the explorer, when EXPLORER=off", () => {
  let api: TestApi;
  beforeAll(async () => {
    // Outside NODE_ENV=test, where Apollo would show its own CDN-loaded landing page unless disabled.
    api = await startApi(null, { EXPLORER: "off", NODE_ENV: "development" });
  });
  afterAll(() => api.stop());

  it("shows a browser at GET /graphql a page saying the explorer is off and how to turn it on, not the explorer nor Apollo's landing page", async () => {
    const response = await openInBrowser(api);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toMatch(/explorer is off/i);
    expect(html).toContain("EXPLORER=on");
    expect(html).not.toMatch(/<script|graphiql|<link rel="stylesheet"/i);
    expect(remoteReferencesIn(html, new URL(api.url).origin)).toEqual([]);
    expect(assetsOf(html).filter((url) => !url.startsWith("data:"))).toEqual([]);
  });

  it("serves that page under the same self-only content security policy, and leaves GraphQL clients' GETs to the API", async () => {
    const page = await openInBrowser(api);
    const onPolicy = (await startApi(null, { EXPLORER: "on" }).then(async (on) => {
      try {
        return (await openInBrowser(on)).headers.get("content-security-policy");
      } finally {
        await on.stop();
      }
    }));
    expect(page.headers.get("content-security-policy")).toBe(onPolicy);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const get = await fetch(`${api.url}?query=${encodeURIComponent("{ __typename }")}`, {
      headers: { accept: "application/json", "apollo-require-preflight": "true" },
    });
    expect(await get.json()).toEqual({ data: { __typename: "Query" } });
  });

  it("serves no assets", async () => {
    for (const asset of ["/explorer/graphiql.js", "/explorer/graphiql.css", "/explorer/explorer.js"]) {
      expect((await fetch(new URL(asset, api.url))).status).toBe(404);
    }
  });

  it("refuses introspection", async () => {
    const result = await post(api.url, INTROSPECTION);
    expect(result.status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(result.error?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(result.error?.message).toMatch(/introspection is not allowed/);
    expect(result.error?.message).toContain("EXPLORER=on");
    expect(result.error?.message).not.toMatch(/ApolloServer/);
  });

  it("still answers __typename, which is not introspection", async () => {
    expect((await post(api.url, { query: "{ __typename }" })).data).toEqual({ __typename: "Query" });
  });
});
