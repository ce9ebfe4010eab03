import type { Logger } from "pino";
import type { FederationProvider } from "../../config";
import { openid } from "./openid";

type Configuration = InstanceType<typeof openid.Configuration>;

/** ID tokens are signed with this unless discovery says the provider does not: OpenID Connect's default. */
const PREFERRED_ID_TOKEN_ALG = "RS256";
/** Seconds of clock difference tolerated on `exp`, `iat` and `nbf` (openid-client's clockTolerance). */
export const CLOCK_TOLERANCE_SECONDS = 30;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/** A provider ready to use: openid-client's Configuration, discovered (OpenID) or preset (GitHub). */
export interface ReadyProvider {
  readonly provider: FederationProvider;
  readonly client: Configuration;
}

/**
 * The providers of OIDC_PROVIDERS and their discovery. Each provider is discovered on its own: one
 * whose issuer does not answer is retried in the background (with a growing delay) and is
 * "unavailable" meanwhile, while the others work. `ready(id)` never waits for the network.
 */
export class Providers {
  private readonly clients = new Map<string, Configuration>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    readonly list: readonly FederationProvider[],
    private readonly logger: Logger,
  ) {}

  /** Starts every discovery; resolves once each has answered or failed once. */
  async start(): Promise<void> {
    await Promise.all(this.list.map((provider) => this.discover(provider, RETRY_FIRST_MS)));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
  }

  find(id: string): FederationProvider | null {
    return this.list.find((provider) => provider.id === id) ?? null;
  }

  /** The provider with its client; null while its discovery has not succeeded. */
  ready(id: string): ReadyProvider | null {
    const provider = this.find(id);
    const client = this.clients.get(id);
    return provider && client ? { provider, client } : null;
  }

  private async discover(provider: FederationProvider, retryMs: number): Promise<void> {
    try {
      this.clients.set(provider.id, await configure(provider));
      this.logger.info({ provider: provider.id }, "sign-in provider ready");
    } catch (error) {
      if (this.stopped) return;
      const where = provider.kind === "oidc" ? provider.issuer : provider.authorizationUrl;
      this.logger.warn(
        { provider: provider.id, err: { message: (error as Error).message }, retryInMs: retryMs },
        `cannot discover the sign-in provider "${provider.id}" at ${where}: its sign-in answers OIDC_PROVIDER_ERROR until discovery succeeds (retrying)`,
      );
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.discover(provider, Math.min(retryMs * 2, RETRY_MAX_MS));
      }, retryMs);
      timer.unref();
      this.timers.add(timer);
    }
  }
}

async function configure(provider: FederationProvider): Promise<Configuration> {
  const insecure = (url: string) => url.startsWith("http://");
  if (provider.kind === "github") {
    // GitHub is OAuth 2.0 without OpenID: its endpoints are preset, and it has no discovery.
    const client = new openid.Configuration(
      { issuer: "https://github.com", authorization_endpoint: provider.authorizationUrl, token_endpoint: provider.tokenUrl },
      provider.clientId,
      { client_secret: provider.clientSecret },
    );
    if (insecure(provider.tokenUrl)) openid.allowInsecureRequests(client);
    return client;
  }
  const discovered = await openid.discovery(new URL(provider.issuer), provider.clientId, provider.clientSecret, undefined, {
    execute: insecure(provider.issuer) ? [openid.allowInsecureRequests] : [],
    timeout: 10,
  });
  const server = discovered.serverMetadata();
  const advertised = server.id_token_signing_alg_values_supported ?? [PREFERRED_ID_TOKEN_ALG];
  const alg = advertised.includes(PREFERRED_ID_TOKEN_ALG) ? PREFERRED_ID_TOKEN_ALG : advertised.find((name) => name !== "none");
  if (alg === undefined) throw new Error("the provider advertises no ID token signing algorithm but none");
  // The one algorithm its ID tokens must carry: pinned, so a token signed with any other (an HMAC with
  // the client secret, "none", another key type) is refused even when the provider lists it too.
  const client = new openid.Configuration(server, provider.clientId, {
    client_secret: provider.clientSecret,
    id_token_signed_response_alg: alg,
    [openid.clockTolerance]: CLOCK_TOLERANCE_SECONDS,
  });
  if (insecure(provider.issuer)) openid.allowInsecureRequests(client);
  return client;
}
