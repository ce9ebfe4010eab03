/**
 * Bundled by esbuild into the page of live-browser.test.ts: Apollo Client with GraphQLWsLink, as an
 * app would set it up. `connectionParams` asks the test (window.freshToken) for a token each time
 * it connects, so a reconnection after 4403 presents a refreshed one.
 */
import { ApolloClient, gql, InMemoryCache } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { createClient } from "graphql-ws";

interface LiveWindow {
  freshToken(): Promise<string>;
  live: { connected: number; closes: { code: number; reason: string }[]; events: unknown[]; errors: string[] };
  startLive(url: string): void;
}

const page = globalThis as unknown as LiveWindow;
page.live = { connected: 0, closes: [], events: [], errors: [] };

page.startLive = (url: string) => {
  const wsClient = createClient({
    url,
    connectionParams: async () => ({ authorization: `Bearer ${await page.freshToken()}` }),
    retryAttempts: 5,
    retryWait: async () => undefined,
    on: {
      connected: () => void page.live.connected++,
      closed: (event) => void page.live.closes.push({ code: (event as { code: number }).code, reason: String((event as { reason: unknown }).reason) }),
    },
  });
  const client = new ApolloClient({ link: new GraphQLWsLink(wsClient), cache: new InMemoryCache() });
  client.subscribe({ query: gql`subscription { sessionEvents { type sessionId device at reason } }` }).subscribe({
    next: (result) => void page.live.events.push((result.data as { sessionEvents?: unknown } | undefined)?.sessionEvents),
    error: (error: unknown) => void page.live.errors.push(String(error)),
  });
};
