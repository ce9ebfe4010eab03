import type { Logger } from "pino";
import { systemClock, type Clock } from "../../clock";
import type { FederationStateStore } from "../../store/store";
import type { Sessions } from "../sessions/sessions";
import { jose } from "./openid";
import { FLOW_TTL_MS } from "./federation";
import { CLOCK_TOLERANCE_SECONDS, type Providers } from "./providers";

/** The `events` member that makes a JWT a logout token (OpenID Connect Back-Channel Logout 1.0, 2.4). */
const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** The oldest `iat` accepted; a jti is remembered this long (plus the skew), so a replay is refused. */
export const MAX_LOGOUT_TOKEN_AGE_SECONDS = 300;

/**
 * How long a logout's marker refuses sign-ins started before it: every sign-in then in flight has
 * its callback within the flow's TTL (its ID token is younger still), plus the skew between instances.
 */
export const LOGOUT_MARKER_TTL_MS = FLOW_TTL_MS + CLOCK_TOLERANCE_SECONDS * 1000;

/** The token failed a check: the route answers 400 (the spec's answer to a bad logout token). */
export class LogoutTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LogoutTokenError";
  }
}

/**
 * A provider says one of its sessions ended: the logout token is verified with jose against the
 * provider's published keys (iss, aud, iat, the alg of its ID tokens, the events member, no nonce,
 * sid or sub), its jti is used once (spent after its sessions ended), and every session here that provider session started ends,
 * which closes their sockets (4401 SESSION_ENDED) on every instance.
 */
export class BackchannelLogout {
  private readonly keySets = new Map<string, ReturnType<typeof jose.createRemoteJWKSet>>();

  constructor(
    private readonly store: Pick<FederationStateStore, "logoutTokenIdUsed" | "useLogoutTokenId" | "providerSessions" | "markProviderLogout">,
    private readonly sessions: Pick<Sessions, "end">,
    private readonly providers: Providers,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Returns how many sessions ended. */
  async logout(providerId: string, logoutToken: string | undefined): Promise<number> {
    const ready = this.providers.ready(providerId);
    if (!ready || ready.provider.kind !== "oidc") throw new LogoutTokenError(`No OpenID provider "${providerId}" is ready`);
    if (!logoutToken) throw new LogoutTokenError("logout_token is missing");
    const server = ready.client.serverMetadata();
    const alg = ready.client.clientMetadata().id_token_signed_response_alg;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jose.jwtVerify(logoutToken, this.keySet(providerId, server.jwks_uri!), {
        issuer: server.issuer,
        audience: ready.provider.clientId,
        algorithms: alg ? [alg] : undefined,
        maxTokenAge: MAX_LOGOUT_TOKEN_AGE_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ["iat", "jti", "events"],
      }));
    } catch (error) {
      throw new LogoutTokenError(`The logout token did not verify: ${(error as Error).message}`);
    }
    const events = payload.events as Record<string, unknown> | undefined;
    if (typeof events !== "object" || events === null || typeof events[BACKCHANNEL_LOGOUT_EVENT] !== "object") throw new LogoutTokenError("The logout token has no back-channel logout event");
    if ("nonce" in payload) throw new LogoutTokenError("A logout token must not carry a nonce");
    const sid = typeof payload.sid === "string" ? payload.sid : null;
    const sub = typeof payload.sub === "string" ? payload.sub : null;
    if (sid === null && sub === null) throw new LogoutTokenError("The logout token names neither sid nor sub");
    if (typeof payload.jti !== "string") throw new LogoutTokenError("The logout token has no jti");
    // The jti is spent only once its sessions ended: a store failure midway answers 5xx, and the
    // provider's retry of the same token must then still work. A token seen before ends nothing more.
    if (await this.store.logoutTokenIdUsed(providerId, payload.jti)) throw new LogoutTokenError("This logout token was used already");
    // The marker first, then the index: a sign-in of this provider session in flight either meets the
    // marker when it indexes its session (and is refused), or indexed it before, and is found below.
    // With a sid, only that provider session is marked (the token's scope); with only a sub, the subject.
    await this.store.markProviderLogout(providerId, sid, sid === null ? sub : null, this.clock.now(), LOGOUT_MARKER_TTL_MS);
    const targets = await this.store.providerSessions(providerId, sid, sub ?? "");
    // With a sid, that provider session's sessions end (the spec's finer scope); with only a sub, all of the subject's.
    let ended = 0;
    for (const { userId, sessionId } of targets) if (await this.sessions.end(userId, sessionId, "provider_logout")) ended++;
    // Two deliveries of one token at once both end the same sessions (a no-op the second time); one is refused here.
    const fresh = await this.store.useLogoutTokenId(providerId, payload.jti, (MAX_LOGOUT_TOKEN_AGE_SECONDS + 2 * CLOCK_TOLERANCE_SECONDS) * 1000);
    if (!fresh) throw new LogoutTokenError("This logout token was used already");
    this.logger.info({ provider: providerId, sid: sid !== null, ended }, "provider back-channel logout");
    return ended;
  }

  private keySet(providerId: string, jwksUri: string): ReturnType<typeof jose.createRemoteJWKSet> {
    let keySet = this.keySets.get(providerId);
    if (!keySet) this.keySets.set(providerId, (keySet = jose.createRemoteJWKSet(new URL(jwksUri))));
    return keySet;
  }
}
