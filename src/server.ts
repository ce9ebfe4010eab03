import "reflect-metadata";
import { hkdfSync } from "node:crypto";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import type { Logger } from "pino";
import type { JsonWebKeySet } from "@revocable-auth/verifier";
import { keySetVersion, type LiveEvent, type RevocationEvent, type SignedInEvent } from "@revocable-auth/verifier/internal";
import { Accounts } from "./auth/accounts/accounts";
import { Audit } from "./auth/audit/audit";
import { AuditTrail } from "./auth/audit/audit-trail";
import { DpopProofs } from "./auth/dpop/proofs";
import { Authenticator } from "./auth/tokens/authenticator";
import { HashQueue } from "./auth/accounts/hash-queue";
import { Mfa, type MfaNotices } from "./auth/mfa/mfa";
import { credentialMailNotices } from "./mail/credential-mail";
import { Passkeys, type PasskeyNotices } from "./auth/passkeys/passkeys";
import { Reauthentication } from "./auth/mfa/reauthentication";
import { EmailChange } from "./auth/mail-links/email-change";
import { EmailVerification } from "./auth/mail-links/email-verification";
import type { MailFlowDeps } from "./auth/mail-links/mail-tokens";
import { Recovery } from "./auth/mail-links/recovery";
import { Passwords, type PasswordHashing } from "./auth/accounts/passwords";
import { SecretBox } from "./auth/mfa/secret-box";
import { BackchannelLogout } from "./auth/federation/backchannel-logout";
import { Federation } from "./auth/federation/federation";
import { Providers } from "./auth/federation/providers";
import { Sessions } from "./auth/sessions/sessions";
import { KeySet } from "./auth/tokens/signing-keys";
import { Throttle } from "./auth/abuse/throttle";
import { Tokens } from "./auth/tokens/tokens";
import { OAuthClients } from "./auth/oauth/clients";
import { OAuthGrants } from "./auth/oauth/grants";
import { OAuthInteractions } from "./auth/oauth/interactions";
import { OAuthProvider, type EndedSignIn } from "./auth/oauth/provider";
import { BackchannelLogouts } from "./auth/oauth/backchannel-logout";
import { OAuthClientCache } from "./auth/oauth/client-cache";
import { LogoutTokens } from "./auth/oauth/logout-token";
import { MemoryBackchannelLogoutStore } from "./store/memory/backchannel-logout";
import { redisBackchannelLogout } from "./store/redis/backchannel-logout";
import { systemClock, type Clock } from "./clock";
import { keyMaterial, type Config } from "./config";
import { contextBuilder, type RequestContext } from "./context/context";
import { errorFormatter, httpStatusPlugin, toGraphQLError } from "./graphql/errors";
import { introspectionOff } from "./graphql/introspection";
import { operationGuards } from "./graphql/limits";
import { buildAuthSchema } from "./graphql/schema";
import { createApp, MAX_BODY_BYTES } from "./http/app";
import { AuditFeed } from "./live/audit-feed";
import { InProcessChannel, type LiveChannel } from "./live/channel";
import { LiveConnections } from "./live/connections";
import { liveProtocol } from "./http/live-protocol";
import { RedisChannel } from "./live/redis-channel";
import { LogMailer } from "./mail/log-mailer";
import { MailQueue } from "./mail/mail-queue";
import type { Mailer } from "./mail/mailer";
import { SmtpMailer } from "./mail/smtp-mailer";
import { MailTemplates } from "./mail/templates";
import { Metrics, metricsExposition } from "./metrics";
import { instrumentStore } from "./store/instrumented-store";
import { MemoryStore } from "./store/memory/memory-store";
import { connectRedisStore, RedisStore } from "./store/redis/redis-store";
import { prepareDatabase } from "./store/postgres/database";
import { connectDirectoryStore, DirectoryStore } from "./store/postgres/directory-store";
import type { Store } from "./store/store";
import type { Tracing } from "./tracing/tracing";

const REDIS_CONNECT_WITHIN_MS = 30_000;
/** On shutdown, connections still open this long after the last request are closed regardless. */
const DRAIN_WITHIN_MS = 10_000;

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  stop(): Promise<void>;
}

export interface ServerDeps {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Started by the entry point before this module loaded; null or absent: off, and nothing is wrapped. */
  readonly tracing?: Tracing | null;
  /** Listeners for the second factor's notices (recovery code used, TOTP on or off, new codes): where mail plugs in. */
  readonly mfaNotices?: MfaNotices;
  /** Listeners for passkeys added and removed; mail by default. */
  readonly passkeyNotices?: PasskeyNotices;
  /**
   * The argon2id cost of new password hashes; OWASP's (m=19456 KiB, t=2) when absent. Not read from
   * the environment: only code that builds a server itself (the tests) can make hashing cheaper.
   */
  readonly passwordHashing?: PasswordHashing;
  /**
   * Told when sessions that signed apps in through the OAuth provider end, with those apps (in
   * memory, best effort: the back-channel logout queue does not depend on it). Absent: not called.
   */
  readonly oauthSignOuts?: (ended: EndedSignIn) => void;
}

/**
 * Whether the OAuth interaction offers the sign-in providers: there are some, and their callback
 * (under PUBLIC_URL) lands on the issuer's origin, where the browser holds the interaction's cookies
 * and the flow cookie its provider button set. Elsewhere the interaction offers password and passkey.
 */
function interactionProviders(config: Config): boolean {
  if (!config.oauth || config.federation.providers.length === 0 || !config.federation.publicUrl) return false;
  return new URL(config.oauth.issuer).origin === new URL(config.federation.publicUrl).origin;
}

/**
 * Whether the OAuth interaction offers a passkey: its page is on the issuer's origin, so a ceremony
 * there verifies only when WEBAUTHN_ORIGINS lists that origin. Offered elsewhere, it could only fail.
 */
function interactionPasskeys(config: Config): boolean {
  return Boolean(config.oauth && config.passkeys?.origins.includes(new URL(config.oauth.issuer).origin));
}

/**
 * The JWKS with the API's ACCESS_TOKEN_TTL beside the keys (`access_token_ttl`; RFC 7517 lets a set
 * carry other members), so verifiers bound a token's lifetime as this API does.
 */
function publishedKeySet(keySet: KeySet, accessTokenTtl: number): JsonWebKeySet | null {
  const jwks = keySet.jwks();
  return jwks ? { keys: [...jwks.keys], access_token_ttl: accessTokenTtl } : null;
}

/**
 * Composition root: builds the store, the auth services, the schema and the HTTP server. A start
 * that fails once connected (the port taken, the admin account refused) closes the store and the
 * live channel again: their clients would otherwise reconnect for as long as the process lives.
 */
export async function startServer(config: Config, deps: ServerDeps): Promise<RunningServer> {
  warnAboutDevelopmentDefaults(config, deps.logger);
  // Before anything connects: a schema older than this code (or a changed migration) stops the start here.
  if (config.database) await prepareDatabase(config.database, deps.logger);
  const rawStore = await createStore(config, deps.logger, deps.clock ?? systemClock);
  const redis = redisOf(rawStore);
  const channel: LiveChannel =
    redis && config.redis ? new RedisChannel(redis.client, config.redis, config.storeTimeoutMs, deps.logger) : new InProcessChannel();
  try {
    return await serve(config, deps, rawStore, channel);
  } catch (error) {
    await Promise.allSettled([channel.close(), rawStore.close()]);
    throw error;
  }
}

/** Everything on top of a connected store and its live channel. */
async function serve(config: Config, { logger, clock = systemClock, tracing = null, mfaNotices, passkeyNotices, passwordHashing, oauthSignOuts }: ServerDeps, rawStore: Store, channel: LiveChannel): Promise<RunningServer> {
  const metrics = new Metrics();
  const store = traceStore(instrumentStore(rawStore, metrics), tracing);
  metrics.readinessProbe = () => store.ping().then(() => true, () => false);
  const publish = (event: LiveEvent) =>
    channel.publish(event).catch((error: Error) => {
      logger.warn({ err: { name: error.name, message: error.message }, kind: event.type }, "could not publish a live event: live connections see it at their next re-check");
    });
  const onSignedIn = (event: SignedInEvent) => void publish({ type: "signed_in", ...event });
  const keySet = new KeySet(keyMaterial(config.jwt));
  const tokens = traceTokens(new Tokens({ ...config.jwt, oauthIssuer: config.oauth?.issuer ?? null, keys: keySet, accessTokenTtl: config.accessTokenTtl, refreshTokenTtl: config.refreshTokenTtl }, clock), tracing);
  const auditTrail = new AuditTrail(store, {
    maxAgeMs: config.audit.retentionDays * 24 * 3600 * 1000,
    maxPerUser: config.audit.maxEventsPerUser,
    maxGlobal: config.audit.maxEvents,
  });
  const audit = new Audit(logger, metrics, auditTrail);
  const backchannel = createBackchannelLogouts(config, rawStore, { store, audit, logger, clock });
  // The one place a revocation becomes an event: counted, published to every instance's live
  // connections, and the ended sessions' back-channel logouts queued (durably: see backchannel-logout.ts).
  // The OAuth provider, once built, hears every revocation too (onSessionEnded).
  let onOAuthRevoked: (event: RevocationEvent) => void = () => undefined;
  const onRevoked = (event: RevocationEvent) => {
    metrics.revocations.inc({ kind: event.kind });
    void publish({ type: "revoked", ...event });
    backchannel?.revoked(event);
    onOAuthRevoked(event);
  };
  const throttle = new Throttle((spec) => store.limiter(spec), config.throttle, audit);
  const dpop = new DpopProofs({ ...config.dpop, nonceKey: config.dpop.nonce ? dpopNonceKey(config) : null }, clock);
  const sessions = new Sessions(store, tokens, onRevoked, {
    graceMs: config.refreshReuseGraceSeconds * 1000,
    onGraceHit: () => metrics.refreshGraceHits.inc(),
    maxPerUser: config.maxSessionsPerUser,
    pending: { ttlMs: config.mfa.pendingTtlSeconds * 1000, maxPerUser: config.mfa.pendingMaxPerUser },
    audit,
    onSignedIn,
    clock,
    reauthMaxAgeMs: config.reauthMaxAgeSeconds * 1000,
    dpop,
  });
  const hashQueue = new HashQueue(config.hashing, (clientIp) => audit.throttled("LOGIN_THROTTLED", "hash_queue", clientIp));
  const accounts = new Accounts(store, tracePasswords(await Passwords.create(hashQueue, passwordHashing), tracing), sessions, clock, onRevoked, { throttle, audit }, {
    requireVerifiedEmail: config.requireVerifiedEmail,
  });
  const outbox = createOutbox(config, logger, metrics);
  const credentialMail = credentialMailNotices(outbox);
  const passkeys = config.passkeys
    ? new Passkeys(store, sessions, clock, config.passkeys, { throttle, audit, decoyKey: passkeyDecoyKey(config) }, passkeyNotices ?? credentialMail, !config.production)
    : null;
  const mailFlows: MailFlowDeps = { store, outbox, clock, ...mailLinkBase(config), throttle, audit };
  const recovery = new Recovery(mailFlows, accounts, config.passwordResetTtl);
  const emailVerification = new EmailVerification(mailFlows, accounts, { ttlSeconds: config.emailVerificationTtl, required: config.requireVerifiedEmail });
  const emailChange = new EmailChange(mailFlows, accounts, config.emailVerificationTtl, recovery);
  const authenticator = new Authenticator(tokens, store, config.revocationFailureMode, logger, {
    onFailOpen: () => metrics.failOpenAcceptances.inc(),
  }, dpop);
  const secretBox = new SecretBox(
    Buffer.from(config.mfa.encryptionKey, "base64"),
    config.mfa.previousEncryptionKeys.map((key) => Buffer.from(key, "base64")),
  );
  const mfa = new Mfa(store, secretBox, sessions, accounts, clock, { issuer: config.mfa.issuer }, { throttle, audit }, mfaNotices ?? credentialMail);
  const reauthentication = new Reauthentication(accounts, mfa);
  // Discovery is tried once before serving; a provider that does not answer is retried in the background.
  const providers = new Providers(config.federation.providers, logger);
  await providers.start();
  const federation = new Federation(store, sessions, providers, config.federation, clock, logger, audit, (event) => void publish({ type: "identity_changed", ...event }));
  const backchannelLogout = new BackchannelLogout(store, sessions, providers, logger, clock);
  // The provider reads clients on every client authentication: kept in memory, forgotten on every
  // instance when one changes (announced on the live channel, which every instance listens to below).
  const clientCache = new OAuthClientCache(store, clock);
  const oauthClients = new OAuthClients(store, clock, audit, async (clientId) => {
    clientCache.forget(clientId);
    await publish({ type: "oauth_client_changed", clientId, at: clock.now() });
  });
  const oauthGrants = new OAuthGrants(store, audit, backchannel ? (userId, clientId) => backchannel.grantEnded(userId, clientId) : undefined);
  const oauth = createOAuthProvider(config, {
    store, clients: clientCache, sessions, tokens, audit, logger, clock, grants: oauthGrants,
    ...(oauthSignOuts ? { onSessionEnded: oauthSignOuts } : {}),
    ...(backchannel ? { onTokensIssued: (userId: string, sessionId: string, clientId: string) => backchannel.linked(userId, sessionId, clientId) } : {}),
  });
  if (oauth) {
    onOAuthRevoked = (event) =>
      void oauth.revoked(event).catch((error: Error) => logger.warn({ err: { name: error.name, message: error.message }, kind: event.kind }, "could not find the apps a revocation signed out"));
  }
  const oauthInteractions =
    oauth &&
    new OAuthInteractions(oauth, accounts, mfa, oauthClients, store, audit, derivedKey(config, "revocable-auth-api oauth interaction csrf"), {
      passkeys: interactionPasskeys(config) ? passkeys : null,
      federation: interactionProviders(config) ? { service: federation, origin: config.federation.publicUrl, throttle } : null,
      sessions,
    });
  if (config.admin) await accounts.ensureAdmin(config.admin.email, config.admin.password, logger);
  const jwks = publishedKeySet(keySet, config.accessTokenTtl);
  if (jwks) await store.publishKeySetVersion(keySetVersion(jwks.keys.map((key) => String(key.kid))));

  const guards = operationGuards(config.limits, { introspection: config.explorer });
  const schema = await buildAuthSchema({ accounts, federation, oauthClients, oauthGrants, sessions, auditTrail, mfa, reauthentication, assurance: { mfaRequiredForRoles: config.mfa.requiredForRoles }, passkeys, recovery, emailVerification, emailChange });
  const apollo = new ApolloServer<RequestContext>({
    schema,
    formatError: errorFormatter(logger),
    includeStacktraceInErrorResponses: false,
    // Introspection is refused by our own rule when the explorer is off, with a message naming EXPLORER=on.
    introspection: true,
    parseOptions: guards.parseOptions,
    validationRules: [...guards.validationRules, ...(config.explorer ? [] : [introspectionOff])],
    // Automatic persisted queries are not part of this API: left on, any anonymous client could fill
    // Apollo's query cache, and a hash mismatch answered "Internal server error" with an error log.
    persistedQueries: false,
    // A browser sends Authorization cross-site only after a CORS preflight, so it proves what the default headers prove:
    // urql's GET queries with a bearer token pass, simple cross-site requests stay blocked (docs/security.md#csrf).
    csrfPrevention: { requestHeaders: ["authorization", "x-apollo-operation-name", "apollo-require-preflight"] },
    // index.ts owns the signals, so shutdown is one ordered sequence: drain HTTP, then the store.
    stopOnTerminationSignals: false,
    // Apollo's own landing page loads from a CDN; the explorer, when on, is served instead.
    plugins: [ApolloServerPluginLandingPageDisabled(), httpStatusPlugin, ...guards.plugins],
  });
  await apollo.start();
  const connections = new LiveConnections({
    store,
    clock,
    logger,
    metrics,
    failureMode: config.revocationFailureMode,
    recheckMs: config.live.recheckSeconds * 1000,
    maxPerUser: config.live.maxConnectionsPerUser,
  });
  // Every serving process (each worker, with WORKERS > 1) subscribes for itself.
  await channel.listen({
    event: (event) => (event.type === "oauth_client_changed" ? clientCache.forget(event.clientId) : connections.event(event)),
    resubscribed: () => {
      clientCache.forgetAll();
      connections.resubscribed();
    },
  });
  connections.start();
  // Opens its tail of the audit stream only while an admin subscription is open on this process.
  const auditFeed = new AuditFeed({ open: () => store.openAuditTail(), logger, metrics, maxQueued: config.live.auditMaxQueued });
  const protocol = liveProtocol({
    schema,
    authenticator,
    dpop,
    connections,
    auditFeed,
    clock,
    maxTokens: config.limits.maxTokens,
    validationRules: [...guards.validationRules, ...(config.explorer ? [] : [introspectionOff])],
    formatError: errorFormatter(logger),
    maxSubscriptions: config.live.maxSubscriptionsPerConnection,
    hideSuggestions: !config.explorer,
  });
  const app = await createApp({
    apollo,
    buildContext: contextBuilder(authenticator, dpop),
    contextError: toGraphQLError,
    store,
    directory: rawStore instanceof DirectoryStore ? { ping: () => rawStore.pingDirectory() } : null,
    metrics,
    metricsExposition: metricsExposition(metrics),
    logger,
    explorer: config.explorer,
    jwks,
    trustProxy: config.trustProxy,
    browsers: config.browsers,
    ...(config.federation.providers.length > 0 ? { federation: { federation, backchannelLogout, throttle } } : {}),
    ...(config.pages.enabled
      ? {
          pages: {
            accounts,
            sessions,
            authenticator,
            verification: emailVerification,
            recovery,
            emailChange,
            mfa,
            reauthentication,
            passkeys,
            auditTrail,
            providers: config.federation.providers.map(({ id, label }) => ({ id, label })),
            allowedRedirectUrls: config.federation.allowedRedirectUrls,
            brand: { name: config.pages.brandName, logoUrl: config.pages.brandLogoUrl },
            csrfKey: pagesCsrfKey(config),
          },
        }
      : {}),
    ...(oauth && oauthInteractions ? { oauth: { oauth, interactions: oauthInteractions, brand: { name: config.pages.brandName, logoUrl: config.pages.brandLogoUrl } } } : {}),
    live: {
      protocol,
      connections,
      allowedOrigins: config.live.allowedOrigins,
      maxMessageBytes: MAX_BODY_BYTES,
      pingMs: config.live.pingSeconds * 1000,
      maxPendingPerClient: config.live.maxPendingPerClient,
      logger,
    },
  });
  // Once: a second call (a signal during a planned stop) waits for the first instead of closing
  // again, which left a timer of a closed Redis client running.
  const stop = once(async () => {
    const force = setTimeout(() => app.server.closeAllConnections(), DRAIN_WITHIN_MS);
    try {
      await app.close();
    } finally {
      clearTimeout(force);
      // Even when the drain failed: admin subscriptions and the audit tail's connection must not outlive the instance.
      auditFeed.close();
      providers.stop();
      try {
        await backchannel?.stop();
        await channel.close();
        await apollo.stop();
        await outbox.stop();
      } finally {
        await store.close();
      }
    }
  });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }

  backchannel?.start();
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://localhost:${port}/graphql`;
  logger.info({ url, host: config.host, store: config.redis?.mode ?? "memory" }, "auth API ready");
  return { url, port, store, stop };
}

/**
 * The key of passkey sign-in's stand-in credential ids: derived (HKDF) from MFA_ENCRYPTION_KEY,
 * which every instance shares, under a label of its own, so it is the same everywhere and reveals
 * nothing about the key that seals TOTP secrets. Rotating that key changes the stand-ins once.
 */
function passkeyDecoyKey(config: Config): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(config.mfa.encryptionKey, "base64"), Buffer.alloc(0), "revocable-auth-api passkey stand-in credential ids", 32));
}

/**
 * The key of DPoP server nonces: from MFA_ENCRYPTION_KEY (HKDF, a label of its own), which every
 * instance shares already, so a nonce one instance hands out is good on every other.
 */
function dpopNonceKey(config: Config): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(config.mfa.encryptionKey, "base64"), Buffer.alloc(0), "revocable-auth-api dpop nonces", 32));
}

/**
 * The key of the hosted pages' CSRF tokens: from MFA_ENCRYPTION_KEY (HKDF, a label of its own), so a
 * form rendered by one instance is accepted by every other.
 */
function pagesCsrfKey(config: Config): Buffer {
  return derivedKey(config, "revocable-auth-api hosted pages csrf");
}

/**
 * Where mailed links point: APP_URL, or the hosted pages when they are on and APP_URL is unset or
 * names this API (docs/pages.md#mail-links); the pages take the token from the query.
 */
function mailLinkBase(config: Config): { appUrl: string; tokenInQuery: boolean } {
  const api = config.federation.publicUrl;
  const toPages = config.pages.enabled && (!config.mail.appUrlSet || new URL(config.mail.appUrl).origin === api);
  return toPages ? { appUrl: `${api}/auth`, tokenInQuery: true } : { appUrl: config.mail.appUrl, tokenInQuery: false };
}

/** A key of its own for `label`, derived (HKDF) from MFA_ENCRYPTION_KEY, which every instance shares. */
function derivedKey(config: Config, label: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(config.mfa.encryptionKey, "base64"), Buffer.alloc(0), label, 32));
}

/** The OAuth provider (OAUTH_PROVIDER=on): config.ts refused an HMAC key set already. */
function createOAuthProvider(config: Config, deps: ConstructorParameters<typeof OAuthProvider>[1]): OAuthProvider | null {
  if (!config.oauth || (config.jwt.algorithm !== "ES256" && config.jwt.algorithm !== "RS256") || config.jwt.signingKid === null) return null;
  return new OAuthProvider(
    {
      issuer: config.oauth.issuer,
      audience: config.jwt.audience,
      algorithm: config.jwt.algorithm,
      keys: config.jwt.keys,
      signingKid: config.jwt.signingKid,
      accessTokenTtl: config.accessTokenTtl,
      refreshTokenTtl: config.refreshTokenTtl,
      cookieKeys: [derivedKey(config, "revocable-auth-api oauth cookies").toString("base64url")],
      proxy: config.trustProxy !== false,
    },
    deps,
  );
}

/**
 * Back-channel logout to the OAuth clients (OAUTH_PROVIDER=on): its links and queue on the store's
 * Redis (so they survive a restart and every instance shares them), else in this process's memory.
 */
function createBackchannelLogouts(config: Config, rawStore: Store, deps: Pick<ConstructorParameters<typeof BackchannelLogouts>[0], "store" | "audit" | "logger" | "clock">): BackchannelLogouts | null {
  const { oauth, jwt } = config;
  if (!oauth || (jwt.algorithm !== "ES256" && jwt.algorithm !== "RS256") || jwt.signingKid === null) return null;
  const redis = redisOf(rawStore);
  const queue = redis ? redisBackchannelLogout(redis.core) : new MemoryBackchannelLogoutStore();
  const key = jwt.keys.find((candidate) => candidate.kid === jwt.signingKid)!;
  const tokens = new LogoutTokens({ issuer: oauth.issuer, algorithm: jwt.algorithm, key });
  const { timeoutMs, retryMs, maxAttempts, maxAgeSeconds, sweepSeconds } = config.oauthBackchannel;
  return new BackchannelLogouts({ ...deps, queue, tokens }, { timeoutMs, retryMs, maxAttempts, maxAgeMs: maxAgeSeconds * 1000, sweepMs: sweepSeconds * 1000, linkTtlMs: config.refreshTokenTtl * 1000 });
}

/** `run` the first time; the same promise every time after. */
function once(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= run());
}

/** Our own spans, when tracing is on: the revocation check and the session scripts (ioredis's spans nest under them). */
function traceStore(store: Store, tracing: Tracing | null): Store {
  if (!tracing) return store;
  return tracing.traced(store, {
    accessState: "auth.revocation_check",
    boundAccessState: "auth.revocation_check",
    createSession: "store.session.create",
    rotateSession: "store.session.rotate",
    endSession: "store.session.end",
    endAllSessions: "store.session.end_all",
    endOtherSessions: "store.session.end_others",
    changePassword: "store.session.change_password",
    setUserDisabled: "store.session.disable_user",
  });
}

function traceTokens(tokens: Tokens, tracing: Tracing | null): Tokens {
  return tracing ? tracing.traced(tokens, { verifyAccess: "auth.verify_token", verifyRefresh: "auth.verify_token" }) : tokens;
}

function tracePasswords(passwords: Passwords, tracing: Tracing | null): Passwords {
  if (!tracing) return passwords;
  return tracing.traced(passwords, { hash: "auth.argon2.hash", verify: "auth.argon2.verify", verifyAgainstNothing: "auth.argon2.verify" });
}

async function createStore(config: Config, logger: Logger, clock: Clock): Promise<Store> {
  if (config.redis) {
    const redis = await connectRedisStore({
      redis: config.redis,
      timeoutMs: config.storeTimeoutMs,
      connectWithinMs: REDIS_CONNECT_WITHIN_MS,
      requireAof: config.redisRequireAof,
      logger,
    });
    if (!config.database) return redis;
    // The directory in Postgres, the hot state on this Redis (src/store/postgres/directory-store.ts).
    return connectDirectoryStore(redis, config.database, logger).catch(async (error: unknown) => {
      await redis.close();
      throw error;
    });
  }
  if (config.database) {
    throw new Error("DATABASE_URL needs Redis (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS): sessions, revocations and the access record each request reads live there");
  }
  // loadConfig already refuses production without Redis; this guards other callers of startServer.
  if (config.production) {
    throw new Error("REDIS_URL (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS) is required when NODE_ENV=production: the embedded store is single-instance and not durable");
  }
  logger.warn(
    "No Redis is configured (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS): using the embedded in-memory store. It is for one instance only and loses every user and session on restart",
  );
  return new MemoryStore(clock);
}

/** The Redis store under the store, if any: the live channel shares its connection settings. */
function redisOf(store: Store): RedisStore | null {
  if (store instanceof RedisStore) return store;
  return store instanceof DirectoryStore ? store.redis : null;
}

/** The mail transport, chosen like the store: SMTP with MAIL_URL, else the log (MAIL_URL=off: nothing is sent). */
function createOutbox(config: Config, logger: Logger, metrics: Metrics): MailQueue {
  const { transport, url, from, templatesDir, maxAttempts } = config.mail;
  const smtp = transport === "smtp" ? new SmtpMailer(url!, from) : null;
  const mailer: Mailer = smtp ?? new LogMailer(logger);
  if (smtp) void checkSmtpServer(smtp, logger);
  if (transport === "log") logger.warn("MAIL_URL is not set: mails, with their links, are written to the log (set MAIL_URL=smtp://… to send them)");
  if (transport === "off") logger.warn("MAIL_URL=off: password reset, email verification and email change are turned off");
  const templates = MailTemplates.load(templatesDir);
  return new MailQueue(mailer, templates, logger, metrics, { maxAttempts, enabled: transport !== "off" });
}

/**
 * An SMTP server that cannot be reached (or refuses the login) would otherwise show only at the
 * first mail. Checked in the background, never holding up the start: the service runs without mail
 * (each mail is retried, then counted as failed), so this warns rather than refusing.
 */
async function checkSmtpServer(smtp: SmtpMailer, logger: Logger): Promise<void> {
  try {
    await smtp.verify();
    logger.info({ smtp: smtp.server }, "the SMTP server (MAIL_URL) answered");
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    logger.warn(
      { smtp: smtp.server, cause: smtp.redact(message ?? String(error)), code },
      `cannot reach the SMTP server at ${smtp.server.host}:${smtp.server.port} (MAIL_URL): mails will fail until it answers`,
    );
  }
}

function warnAboutDevelopmentDefaults(config: Config, logger: Logger): void {
  if (config.mfa.keyGenerated) {
    logger.warn("MFA_ENCRYPTION_KEY is not set: TOTP secrets are sealed with a key made for this process, so every authenticator stops working when it restarts");
  }
  if (config.jwt.secretGenerated) {
    logger.warn("JWT_SECRET is not set: using a random secret, so tokens stop working when this process restarts");
  }
  if (config.jwt.keysGenerated) {
    logger.warn(
      `JWT_KEYS_FILE is not set: signing with an ${config.jwt.algorithm} key made for this process, so tokens stop working when it restarts (npm run keys -- generate ${config.jwt.algorithm} makes one to keep)`,
    );
  }
}
