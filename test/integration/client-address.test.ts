import { ApolloServer } from "@apollo/server";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import pino from "pino";
import { systemClock } from "../../src/clock";
import { loadConfig } from "../../src/config";
import type { RequestContext } from "../../src/context/context";
import { createApp } from "../../src/http/app";
import { Metrics, metricsExposition } from "../../src/metrics";
import { MemoryStore } from "../../src/store/memory/memory-store";
import { spawnApi } from "../support/api";

/**
 * The transport hands every context the client's address. Here the real transport (src/http/app.ts)
 * serves a one-field schema that answers with the address its context was given.
 */
async function transportWith(trustProxyEnv: string) {
  const apollo = new ApolloServer<RequestContext>({
    typeDefs: "type Query { clientIp: String! }",
    resolvers: { Query: { clientIp: (_parent: unknown, _args: unknown, context: RequestContext) => context.clientIp } },
  });
  await apollo.start();
  const metrics = new Metrics();
  const app = await createApp({
    apollo,
    buildContext: async (_request, transport) => ({ identity: null, ...transport }),
    contextError: (error) => error as Error,
    store: new MemoryStore(systemClock),
    metrics,
    metricsExposition: metricsExposition(metrics),
    logger: pino({ level: "silent" }),
    explorer: false,
    jwks: null,
    trustProxy: loadConfig({ TRUST_PROXY: trustProxyEnv }).trustProxy,
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/graphql`;
  return {
    async clientIp(forwardedFor?: string): Promise<string> {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}) },
        body: JSON.stringify({ query: "{ clientIp }" }),
      });
      return ((await response.json()) as { data: { clientIp: string } }).data.clientIp;
    },
    async close() {
      await app.close();
      await apollo.stop();
    },
  };
}

describe("the client's address in the context", () => {
  it.each([
    ["unset: the socket's address, X-Forwarded-For ignored", "", "203.0.113.7", "127.0.0.1"],
    ["a hop count: the address that many proxies in", "1", "198.51.100.1, 203.0.113.7", "203.0.113.7"],
    ["two hops", "2", "198.51.100.1, 203.0.113.7", "198.51.100.1"],
    ["a CIDR that holds the proxy", "127.0.0.0/8", "203.0.113.7", "203.0.113.7"],
    ["addresses that do not hold the proxy: the socket's address", "10.0.0.0/8, 192.0.2.1", "203.0.113.7", "127.0.0.1"],
  ])("with TRUST_PROXY %s", async (_, setting, forwardedFor, expected) => {
    const transport = await transportWith(setting);
    try {
      expect(await transport.clientIp(forwardedFor)).toBe(expected);
    } finally {
      await transport.close();
    }
  });

  it("is the socket's address when a trusted proxy sends no X-Forwarded-For", async () => {
    const transport = await transportWith("127.0.0.1");
    try {
      expect(await transport.clientIp()).toBe("127.0.0.1");
    } finally {
      await transport.close();
    }
  });
});

describe("HOST", () => {
  it("chooses the address the server listens on", async () => {
    const api = await spawnApi(null, { HOST: "127.0.0.1" });
    try {
      const port = new URL(api.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await expect(fetch(`http://[::1]:${port}/healthz`)).rejects.toThrow();
    } finally {
      await api.stop();
    }
  });

  it("is this machine only by default outside production: a first run is not reachable from the LAN", async () => {
    const api = await spawnApi(null);
    try {
      const port = new URL(api.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const lan = Object.values(networkInterfaces())
        .flat()
        .find((address) => address && !address.internal && address.family === "IPv4");
      if (lan) await expect(fetch(`http://${lan.address}:${port}/healthz`)).rejects.toThrow();
    } finally {
      await api.stop();
    }
  });

  it("is every interface, IPv4 and IPv6, with HOST=:: (the production default)", async () => {
    const api = await spawnApi(null, { HOST: "::" });
    try {
      const port = new URL(api.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://[::1]:${port}/healthz`)).status).toBe(200);
    } finally {
      await api.stop();
    }
  });
});

