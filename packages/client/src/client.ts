import { startAuthentication, startRegistration } from "@simplewebauthn/browser";
import type { KeyPair } from "dpop";
import {
  authorizationHeaders,
  CONFIRM_TOTP,
  graphql,
  keyUnavailable,
  LOGIN,
  LOGIN_WITH_PASSKEY,
  LOGOUT,
  LOGOUT_ALL,
  PASSKEY_LOGIN_OPTIONS,
  PASSKEY_REGISTRATION_OPTIONS,
  REAUTHENTICATE,
  REFRESH,
  REFRESH_WITH_COOKIE,
  REGISTER,
  REGISTER_PASSKEY,
  SECOND_FACTOR_REASONS,
  VERIFY_MFA,
  type Authorization,
  type AuthPayload,
  type GraphQLTransport,
  type Passkey,
  type User,
} from "./api.js";
import { createDpop, defaultKeys, wantsNonce, type DpopKeys, type KeyStore } from "./dpop.js";
import { globals, type ChannelFactory, type FetchLike, type IdbFactoryLike, type LockManagerLike, type ResponseLike, type SocketFactory } from "./environment.js";
import { AuthClientError, endsSession } from "./errors.js";
import { openLiveOnce, type Live, type SessionEvent } from "./live.js";
import { freshToken, initialState, sessionOf, transition, type AuthEvent, type AuthEventDetail, type AuthState, type Input, type SecondFactor, type Session } from "./session-state.js";
import { leaseLock, localLock, webLock, type TabLock } from "./tab-lock.js";
import { connectTabs, type TabMessage } from "./tabs.js";

/** Where the refresh token lives outside browsers: your own store (for example the OS keychain). */
export interface RefreshTokenStore {
  get(): string | null | Promise<string | null>;
  set(token: string | null): void | Promise<void>;
}

export interface AuthClientOptions {
  /** The API's GraphQL endpoint, e.g. `https://example.com/graphql` or `/graphql` in a browser. */
  readonly url: string;
  /**
   * The WebSocket endpoint for the live `sessionEvents` subscription; by default `url` with ws(s):.
   * `null` turns the live part off (sign-outs elsewhere are then known at the next refresh).
   */
  readonly liveUrl?: string | null;
  /**
   * `"cookie"` (the default in browsers): the API's HttpOnly cookie holds the refresh token and page
   * script never sees it. `"memory"` (the default elsewhere) or a store of yours: the client holds it.
   */
  readonly refreshToken?: "cookie" | "memory" | RefreshTokenStore;
  /** Refresh when the access token has less than this left (default 30, at most half its lifetime). */
  readonly refreshMarginSeconds?: number;
  /** The device name sent with signIn and register, shown in the sessions list. */
  readonly device?: string;
  /** Names the cross-tab lock and channel; two clients of one origin with the same name share them. */
  readonly name?: string;
  /** The environment, for tests and unusual hosts; each defaults to the global one (`null`: none). */
  readonly fetch?: FetchLike;
  readonly locks?: LockManagerLike | null;
  readonly BroadcastChannel?: ChannelFactory | null;
  readonly WebSocket?: SocketFactory | null;
  readonly now?: () => number;
  /** How `signInWith` sends the browser away; default `location.assign`. */
  readonly navigate?: (url: string) => void;
  /**
   * DPoP (RFC 9449): `true` (the default) sends a proof with every sign-in and refresh, so an API
   * that offers DPoP binds the tokens to this client's key (`tokenType: "DPoP"`), and then signs a
   * proof for every request and socket; an API with `DPOP=off` answers bearer tokens and nothing
   * more is signed. `false`: never. A function: the key pair to sign with (for a Node client that
   * keeps its key beyond the process). The default key is a non-extractable ECDSA P-256 key kept in
   * IndexedDB (one per origin and `name`, shared by every tab), or in memory where there is none.
   * Where the key cannot be loaded (IndexedDB refused, no WebCrypto) `true` signs in without a
   * proof and gets bearer tokens (the session's `tokenType` says which); `"required"` makes the
   * sign-in fail with `DPOP_KEY_UNAVAILABLE` instead.
   */
  readonly dpop?: boolean | "required" | DpopKeys;
  readonly indexedDB?: IdbFactoryLike | null;
}

export interface Credentials {
  readonly email: string;
  readonly password: string;
  readonly device?: string;
}

/** What `signIn` resolves with: the user, and whether the session waits for `verifyMfa`. */
export interface SignInResult extends User {
  /** True: the state is `mfaRequired`; call `verifyMfa(code)` to finish signing in. */
  readonly mfaRequired: boolean;
}

/** What `reauthenticate` checks: exactly one of the password and a second-factor code. */
export type Reauthentication = { readonly password: string; readonly code?: never } | { readonly code: string; readonly password?: never };

export interface PasskeySignIn {
  /** Offer only this account's passkeys; without it the browser offers every passkey it holds for the site. */
  readonly email?: string;
  readonly device?: string;
  /** Conditional UI: the passkeys appear in the autofill of an `autocomplete="username webauthn"` field. */
  readonly useBrowserAutofill?: boolean;
}

export type AuthStateListener = (event: AuthEvent, detail: AuthEventDetail) => void;

export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  [option: string]: unknown;
}

export interface AuthClient {
  /**
   * Signs in with a password. For a user with a second factor it resolves `{ mfaRequired: true }`
   * and the state is `mfaRequired` (event `MFA_REQUIRED`): finish with `verifyMfa(code)`.
   */
  signIn(credentials: Credentials): Promise<SignInResult>;
  /** The second step: a TOTP or recovery code raises the session to aal2 and fires `SIGNED_IN`. */
  verifyMfa(code: string): Promise<User>;
  /** Confirms a TOTP enrolment (after `enrollTotp`); answers the recovery codes, shown once. Leaves `mfaEnrollmentRequired`. */
  confirmTotp(code: string): Promise<readonly string[]>;
  /** Signs in with a passkey (WebAuthn, through `@simplewebauthn/browser`); fires `SIGNED_IN`. */
  signInWithPasskey(options?: PasskeySignIn): Promise<User>;
  /** Adds a passkey to the signed-in user; may need `reauthenticate` first (`REAUTHENTICATION_REQUIRED`). */
  addPasskey(name?: string): Promise<Passkey>;
  /** Proves it is still you, so that adding a passkey or enrolling TOTP is allowed for a while. */
  reauthenticate(proof: Reauthentication): Promise<void>;
  /**
   * Sends the browser to the API's `/auth/oidc/<provider>/start`; the provider's callback comes
   * back to `redirectTo` with the refresh cookie (or `?error=<CODE>`). The page that loads there
   * gets SIGNED_IN from onAuthStateChange at its first `getAccessToken()`. Returns the URL it opened.
   */
  signInWith(provider: string, options: { readonly redirectTo: string }): string;
  register(credentials: Credentials): Promise<User>;
  /** Ends this session at the API and in every tab. */
  signOut(): Promise<void>;
  /** Ends every session of the user (logoutAll): every tab here, and every other device. */
  signOutEverywhere(): Promise<void>;
  /** A valid access token, refreshed once across all tabs when needed; null when signed out. */
  getAccessToken(): Promise<string | null>;
  /** The access token held now if it is still fresh, without any request; else null. */
  currentAccessToken(): string | null;
  /** `Bearer <token>` or `DPoP <token>` for the fresh token held now, without any request; else null. */
  currentAuthorization(): string | null;
  /**
   * The headers that authorize one request to `url` (default: the API's `url`) with `method`
   * (default POST): `authorization`, and a fresh `dpop` proof when the session is DPoP-bound.
   * Empty when signed out.
   */
  authorize(url?: string, method?: string): Promise<Record<string, string>>;
  /**
   * connection_init's payload for a socket to `url` (default `liveUrl`): `{ authorization }`, and
   * `dpop`, a proof for GET on that URL, when the session is DPoP-bound. Empty when signed out.
   */
  connectionParams(url?: string): Promise<Record<string, string>>;
  /**
   * A `fetch` that adds a fresh DPoP proof to each request sent with `Authorization: DPoP …`, and
   * signs again once with the API's nonce when it asks (`use_dpop_nonce`). For frameworks that set
   * headers synchronously (urql): pass it as their `fetch`.
   */
  dpopFetch(fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>): (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  onAuthStateChange(listener: AuthStateListener): () => void;
  /** Events of the live `sessionEvents` subscription: another session of this user began or ended. */
  onSessionEvent(listener: (event: SessionEvent) => void): () => void;
  /**
   * Tell the client the API refused a request with this reason. Answers whether retrying once with
   * `getAccessToken()` makes sense: true for `TOKEN_EXPIRED`; `TOKEN_REVOKED` and `ACCOUNT_DISABLED`
   * sign out every tab and answer false. `token`, the access token the refused request carried:
   * a refusal of an older token than the one held now (an answer to a request sent before
   * `verifyMfa` or a refresh) changes nothing, and is worth a retry with the current one.
   */
  refused(reason: string, token?: string | null): Promise<boolean>;
  /**
   * For integrations that send their own requests (the Apollo link): remembers the `DPoP-Nonce` a
   * response from `url` (default: the API's `url`) carried, and answers whether it asks to sign
   * again with it (`use_dpop_nonce`).
   */
  dpopChallenge(url: string | undefined, response: { readonly status: number; readonly headers: { get(name: string): string | null } }): boolean;
  /** `fetch` with the bearer token; one retry after `TOKEN_EXPIRED`, sign-out on `TOKEN_REVOKED`. */
  fetch(url: string, init?: FetchInit): Promise<ResponseLike>;
  /** One GraphQL operation to `url` with the bearer token; answers `data` or throws AuthClientError. */
  request<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** This tab's state: `unknown`, `signedIn`, `mfaRequired`, `mfaEnrollmentRequired`, `refreshing` or `signedOut`. */
  readonly state: AuthState;
  /** Closes the channel, the lock and the live socket (for tests and single-page teardown). */
  close(): void;
}

/** How long a tab that waited for the lock waits for the holder's message about its refresh. */
const OUTCOME_WAIT_MS = 1_000;
const RETRY_REASONS = new Set(["TOKEN_EXPIRED", "INVALID_TOKEN"]);
const SIGN_OUT_REASONS = new Set(["TOKEN_REVOKED", "ACCOUNT_DISABLED", "REFRESH_TOKEN_REUSED"]);
/** A refusal of the request's proof, not of its session. */
const DPOP_REFUSALS = new Set(["DPOP_PROOF_REQUIRED", "INVALID_DPOP_PROOF"]);

export function createAuthClient(options: AuthClientOptions): AuthClient {
  const env = globals();
  const fetchImpl = options.fetch ?? env.fetch;
  if (!fetchImpl) throw new TypeError("createAuthClient: no fetch in this environment; pass options.fetch");
  const now = options.now ?? Date.now;
  const name = options.name ?? "revocable-auth";
  const marginMs = (options.refreshMarginSeconds ?? 30) * 1000;
  const mode = options.refreshToken ?? (env.isBrowser ? "cookie" : "memory");
  const holder: RefreshTokenStore | null = mode === "cookie" ? null : mode === "memory" ? memoryStore() : mode;
  const apiUrl = absolute(options.url);
  // A key of yours (a function) is yours to rotate; the default one is replaced at each explicit sign-out.
  const keys: (Partial<KeyStore> & Pick<KeyStore, "load">) | null =
    options.dpop === false || (!options.dpop && !env.webCrypto) ? null : typeof options.dpop === "function" ? { load: options.dpop } : defaultKeys(name, options.indexedDB === undefined ? env.indexedDB : options.indexedDB);
  const dpop = keys ? createDpop(keys.load, options.dpop === "required") : null;
  const transport: GraphQLTransport = { url: apiUrl, fetch: fetchImpl, withCookie: holder === null, dpop };
  const Channel = options.BroadcastChannel === undefined ? env.BroadcastChannel : options.BroadcastChannel;
  const locks = options.locks === undefined ? env.locks : options.locks;
  const Socket = options.WebSocket === undefined ? env.WebSocket : options.WebSocket;
  const liveUrl = options.liveUrl === undefined ? defaultLiveUrl(options.url) : options.liveUrl;
  const lock: TabLock = locks ? webLock(locks, `${name}:refresh`) : Channel ? leaseLock(Channel, name) : localLock();

  let state: AuthState = initialState;
  let inflight: Promise<string | null> | null = null;
  /** Messages from a lock holder about its refresh, counted, so a waiting tab knows one arrived. */
  let outcomes = 0;
  let outcomeArrived: (() => void) | null = null;
  /** An access token the API called expired although our clock did not (clock skew, key rotation). */
  let refusedToken: string | null = null;
  let live: Live | null = null;
  const listeners = new Set<AuthStateListener>();
  const eventListeners = new Set<(event: SessionEvent) => void>();

  const tabs = connectTabs(Channel, name, (message: TabMessage) => {
    if (message.type === "sessionEvent") return deliver(message.event);
    outcomes++;
    outcomeArrived?.();
    if (message.type === "session") apply({ type: "session", session: message.session });
    else if (message.type === "signedOut") {
      keys?.forget?.(); // a tab that signed out replaced the key (stored before it told us)
      apply({ type: "signedOut", reason: message.reason });
    } else if (message.type === "secondFactor") apply({ type: "secondFactor", reason: message.reason, accessToken: message.accessToken });
  });

  function apply(input: Input, tell?: TabMessage): void {
    const step = transition(state, input);
    state = step.state;
    if (tell) tabs.post(tell);
    syncLive();
    if (step.event) for (const listener of [...listeners]) safely(() => listener(step.event!.name, step.event!.detail));
  }

  function deliver(event: SessionEvent): void {
    for (const listener of [...eventListeners]) safely(() => listener(event));
  }

  /** The socket lives while signed in (or enrolling a factor); an aal1 session awaiting verifyMfa may not open one. */
  function syncLive(): void {
    if (state.status === "signedOut" || state.status === "mfaRequired") {
      live?.stop();
      live = null;
    } else if ((state.status === "signedIn" || state.status === "mfaEnrollmentRequired") && !live && liveUrl && Socket) {
      live = openLiveOnce(locks, `${name}:live`, {
        url: liveUrl,
        WebSocket: Socket,
        connectionParams: socketInit,
        secondFactor: (reason, token) => {
          void client.refused(reason, token);
          return token === sessionOf(state)?.accessToken;
        },
        // 4403 (expired, roles changed, ...): whatever the reason, the next token must be a new one.
        tokenRefused: (token) => void (refusedToken = token),
        event: (event) => {
          tabs.post({ type: "sessionEvent", event });
          deliver(event);
        },
        signedOut: (reason) => void signOutHere(reason),
      });
    }
  }

  /**
   * A new payload becomes the session. It owes a second factor when the API says so; it still owes
   * an enrolment it owed before, unless this payload came from completing one (`steppedUp`).
   */
  function adopt(payload: AuthPayload, steppedUp = false): Session {
    const receivedAt = now();
    const before = sessionOf(state);
    const stillEnrolling = !steppedUp && before?.sessionId === payload.sessionId && before.secondFactor === "MFA_ENROLLMENT_REQUIRED";
    const secondFactor: SecondFactor | null = payload.mfaRequired ? "MFA_REQUIRED" : stillEnrolling ? "MFA_ENROLLMENT_REQUIRED" : null;
    const session: Session = {
      accessToken: payload.accessToken,
      receivedAt,
      expiresAt: receivedAt + lifetimeMs(payload),
      sessionId: payload.sessionId,
      user: payload.user,
      tokenType: payload.tokenType === "DPoP" ? "DPoP" : "Bearer",
      secondFactor,
    };
    refusedToken = null;
    apply({ type: "session", session }, { type: "session", session });
    return session;
  }

  async function signOutHere(reason: string, tellTabs = true): Promise<void> {
    await holder?.set(null);
    apply({ type: "signedOut", reason }, tellTabs ? { type: "signedOut", reason } : undefined);
  }

  function usableToken(): string | null {
    const token = freshToken(state, now(), marginMs);
    return token && token !== refusedToken ? token : null;
  }

  function untilOutcome(since: number): Promise<void> {
    if (outcomes !== since) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, OUTCOME_WAIT_MS);
      outcomeArrived = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (outcomeArrived = null));
  }

  async function refreshAcrossTabs(): Promise<string | null> {
    const seen = outcomes;
    return lock.run(async (waited) => {
      if (waited) await untilOutcome(seen);
      const token = usableToken();
      if (token) return token;
      if (state.status === "signedOut") return null;
      return refreshNow();
    });
  }

  async function refreshNow(): Promise<string | null> {
    const firstLook = state.status === "unknown";
    const boundSession = sessionOf(state)?.tokenType === "DPoP";
    apply({ type: "refreshStarted" });
    try {
      const stored = holder ? await holder.get() : null;
      if (holder && !stored) throw new AuthClientError("UNAUTHENTICATED", "INVALID_TOKEN", "No refresh token is stored");
      const data = stored
        ? await graphql<{ refresh: AuthPayload }>(transport, REFRESH, { refreshToken: stored }, { signIn: true, boundSession })
        : await graphql<{ refresh: AuthPayload }>(transport, REFRESH_WITH_COOKIE, {}, { signIn: true, boundSession });
      await holder?.set(data.refresh.refreshToken);
      return adopt(data.refresh).accessToken;
    } catch (caught) {
      const error = await keyFailure(caught);
      if (!endsSession(error)) {
        apply({ type: "refreshFailed" }, { type: "refreshFailed" });
        throw error;
      }
      // A fresh tab that finds no session has learnt nothing the other tabs need to act on.
      const nothingThere = firstLook && error.reason === "INVALID_TOKEN";
      if (nothingThere) tabs.post({ type: "refreshFailed" });
      await signOutHere(nothingThere ? "NO_SESSION" : error.reason, !nothingThere);
      return null;
    }
  }

  /**
   * A refresh refused for its proof (a fresh tab cannot know the session is bound) while the key
   * does not load says nothing about the session: the key may load next time (IndexedDB reopened).
   */
  async function keyFailure(error: unknown): Promise<unknown> {
    if (!dpop || !endsSession(error) || !DPOP_REFUSALS.has(error.reason) || (await dpop.usable())) return error;
    return keyUnavailable(new Error(error.message));
  }

  async function start(query: string, credentials: Credentials): Promise<SignInResult> {
    const input = {
      email: credentials.email,
      password: credentials.password,
      ...(credentials.device ?? options.device ? { device: credentials.device ?? options.device } : {}),
      ...(holder ? {} : { refreshTokenInCookie: true }),
    };
    return signedIn(await graphql<Record<string, AuthPayload>>(transport, query, { input }, { signIn: true }));
  }

  /** The payload of a sign-in (the one field of `data`) becomes the session. */
  async function signedIn(data: Record<string, AuthPayload>, steppedUp = false): Promise<SignInResult> {
    const payload = Object.values(data)[0]!;
    await holder?.set(payload.refreshToken);
    adopt(payload, steppedUp);
    return { ...payload.user, mfaRequired: payload.mfaRequired };
  }

  /** The session's token and its scheme, for a request of this session. */
  function authorizationOf(token: string | null): Authorization {
    const session = sessionOf(state);
    return { token, tokenType: session?.accessToken === token ? session.tokenType : "Bearer" };
  }

  /** connection_init's payload for a socket to `url`, and the token in it; null when signed out. */
  async function socketInit(url: string | null | undefined): Promise<{ token: string; params: Record<string, string> } | null> {
    const token = await client.getAccessToken();
    if (!token) return null;
    return { token, params: await authorizationHeaders(dpop, absolute(url ?? liveUrl ?? options.url), "GET", authorizationOf(token)) };
  }

  /** One operation of this session: a token refused as expired is refreshed and the operation sent once more. */
  async function authorized<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const token = await client.getAccessToken();
    try {
      return await graphql<T>(transport, query, variables, authorizationOf(token));
    } catch (error) {
      if (!(error instanceof AuthClientError) || !(await client.refused(error.reason, token))) throw error;
      return graphql<T>(transport, query, variables, authorizationOf(await client.getAccessToken()));
    }
  }

  /**
   * Every tab signs out (and the socket closes) before the API is asked, so the API's 4401 on the
   * socket cannot outrun this tab's own reason; a failed request is thrown after, signed out still.
   */
  async function end(query: string, reason: string): Promise<void> {
    if (state.status === "signedOut") return;
    const token = await client.getAccessToken().catch(() => null);
    const authorization = { ...authorizationOf(token), keyPair: await retireKey() }; // its scheme and key, before the session is gone
    await signOutHere(reason);
    if (!token) return;
    try {
      await graphql(transport, query, {}, authorization);
    } catch (error) {
      if (!endsSession(error)) throw error; // already over at the API is what was asked for
    }
  }

  async function authorizedFetch(url: string, init: FetchInit = {}, retried = false, nonceRetried = false): Promise<ResponseLike> {
    const method = init.method ?? "GET";
    const authorization = await client.authorize(url, method);
    const headers = { ...withoutAuthorization(init.headers), ...authorization };
    const response = await fetchImpl!(url, { ...init, method, headers } as Parameters<FetchLike>[1]);
    if (!nonceRetried && client.dpopChallenge(url, response)) return authorizedFetch(url, init, retried, true);
    if (response.status !== 401 || !response.clone) return response;
    const body = (await response.clone().json().catch(() => null)) as { errors?: { extensions?: { reason?: string } }[] } | null;
    const reason = body?.errors?.[0]?.extensions?.reason;
    if (reason && (await client.refused(reason, authorization.authorization?.split(" ")[1])) && !retried) return authorizedFetch(url, init, true);
    return response;
  }

  /**
   * An explicit sign-out replaces the default key before any tab hears of it, so that one key
   * (its thumbprint, in every token) does not link the accounts used one after another in this
   * browser. Answers the old key, which still signs this session's logout.
   */
  async function retireKey(): Promise<KeyPair | undefined> {
    if (!keys?.rotate) return undefined;
    const retiring = await keys.load().catch(() => undefined);
    await keys.rotate().catch(() => {}); // the key stays as it was: signing out matters more
    return retiring;
  }

  const client: AuthClient = {
    signIn: (credentials) => start(LOGIN, credentials),
    async verifyMfa(code) {
      return signedIn(await authorized<{ verifyMfa: AuthPayload }>(VERIFY_MFA, { code }));
    },
    async confirmTotp(code) {
      const { confirmTotp } = await authorized<{ confirmTotp: { recoveryCodes: string[]; auth: AuthPayload } }>(CONFIRM_TOTP, { code });
      await signedIn({ confirmTotp: confirmTotp.auth }, true);
      return confirmTotp.recoveryCodes;
    },
    async signInWithPasskey(passkey = {}) {
      const { passkeyLoginOptions } = await graphql<{ passkeyLoginOptions: Parameters<typeof startAuthentication>[0]["optionsJSON"] }>(
        transport,
        PASSKEY_LOGIN_OPTIONS,
        passkey.email ? { email: passkey.email } : {},
      );
      const response = await startAuthentication({ optionsJSON: passkeyLoginOptions, useBrowserAutofill: passkey.useBrowserAutofill ?? false });
      const device = passkey.device ?? options.device;
      const variables = { response, ...(device ? { device } : {}), ...(holder ? {} : { refreshTokenInCookie: true }) };
      return signedIn(await graphql<{ loginWithPasskey: AuthPayload }>(transport, LOGIN_WITH_PASSKEY, variables, { signIn: true }));
    },
    async addPasskey(passkeyName) {
      const { passkeyRegistrationOptions } = await authorized<{ passkeyRegistrationOptions: Parameters<typeof startRegistration>[0]["optionsJSON"] }>(PASSKEY_REGISTRATION_OPTIONS);
      const response = await startRegistration({ optionsJSON: passkeyRegistrationOptions });
      return (await authorized<{ registerPasskey: Passkey }>(REGISTER_PASSKEY, { response, ...(passkeyName ? { name: passkeyName } : {}) })).registerPasskey;
    },
    async reauthenticate(proof) {
      await authorized(REAUTHENTICATE, { input: proof });
    },
    signInWith(provider, { redirectTo }) {
      const url = providerStartUrl(options.url, provider, redirectTo);
      const navigate = options.navigate ?? ((target: string) => (globalThis as { location?: { assign(url: string): void } }).location?.assign(target));
      navigate(url);
      return url;
    },
    register: (credentials) => start(REGISTER, credentials),
    signOut: () => end(LOGOUT, "SIGNED_OUT"),
    signOutEverywhere: () => end(LOGOUT_ALL, "SIGNED_OUT_EVERYWHERE"),
    getAccessToken() {
      const token = usableToken();
      if (token) return Promise.resolve(token);
      if (state.status === "signedOut") return Promise.resolve(null);
      return (inflight ??= refreshAcrossTabs().finally(() => (inflight = null)));
    },
    currentAccessToken: usableToken,
    currentAuthorization() {
      const token = usableToken();
      return token ? `${authorizationOf(token).tokenType} ${token}` : null;
    },
    async authorize(url, method = "POST") {
      const token = await client.getAccessToken();
      return token ? authorizationHeaders(dpop, absolute(url ?? options.url), method, authorizationOf(token)) : {};
    },
    connectionParams: async (url) => (await socketInit(url))?.params ?? {},
    dpopFetch(inner = (globalThis.fetch as typeof fetch).bind(globalThis)) {
      const proved = async (input: string | URL | Request, init: RequestInit = {}, nonceRetried = false): Promise<Response> => {
        const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
        const [scheme, token] = (headers.get("authorization") ?? "").split(" ");
        if (!dpop || scheme !== "DPoP" || !token) return inner(input, init);
        const url = input instanceof Request ? input.url : String(input);
        const method = init.method ?? (input instanceof Request ? input.method : "GET");
        headers.set("dpop", await dpop.proof(absolute(url), method, token));
        const response = await inner(input, { ...init, headers });
        if (nonceRetried || !client.dpopChallenge(absolute(url), response)) return response;
        return proved(input, init, true);
      };
      return proved;
    },
    onAuthStateChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    onSessionEvent(listener) {
      eventListeners.add(listener);
      return () => void eventListeners.delete(listener);
    },
    async refused(reason, token) {
      const current = sessionOf(state)?.accessToken;
      // An answer about a token this tab has already replaced (verifyMfa, a refresh) is old news.
      if (token && current && token !== current) return RETRY_REASONS.has(reason) || SECOND_FACTOR_REASONS.has(reason);
      if (SECOND_FACTOR_REASONS.has(reason)) {
        if (current) apply({ type: "secondFactor", reason: reason as SecondFactor, accessToken: current }, { type: "secondFactor", reason: reason as SecondFactor, accessToken: current });
        return false;
      }
      if (RETRY_REASONS.has(reason)) {
        refusedToken = sessionOf(state)?.accessToken ?? null;
        return state.status !== "signedOut";
      }
      if (SIGN_OUT_REASONS.has(reason)) await signOutHere(reason);
      return false;
    },
    dpopChallenge(url, response) {
      if (!dpop) return false;
      dpop.nonce(url === undefined ? apiUrl : absolute(url), response.headers.get("dpop-nonce"));
      return wantsNonce(response.status, response.headers.get("www-authenticate"));
    },
    fetch: (url, init) => authorizedFetch(url, init),
    request<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      return authorized<T>(query, variables);
    },
    get state() {
      return state;
    },
    close() {
      live?.stop();
      live = null;
      tabs.close();
      lock.close();
      listeners.clear();
      eventListeners.clear();
    },
  };
  return client;
}

function memoryStore(): RefreshTokenStore {
  let token: string | null = null;
  return { get: () => token, set: (value) => void (token = value) };
}

function safely(call: () => void): void {
  try {
    call();
  } catch (error) {
    // Reported, without breaking the state machine or keeping the event from the other listeners.
    const report = (globalThis as { reportError?: (error: unknown) => void }).reportError ?? console.error;
    report(error);
  }
}

/** A URL as absolute, resolved against the page where it is relative (a DPoP proof names the absolute one). */
function absolute(url: string): string {
  try {
    return new URL(url, (globalThis as { location?: { href: string } }).location?.href).href;
  } catch {
    return url; // relative where there is no page: fetch refuses it as it did before
  }
}

/** Headers with `authorization` (any spelling) left out: the client sets its own. */
function withoutAuthorization(headers: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([header]) => header.toLowerCase() !== "authorization" && header.toLowerCase() !== "dpop"));
}

/** ws: or wss: beside the HTTP endpoint; relative URLs resolve against the page. */
/** The API's start route for a provider, on the origin of the GraphQL endpoint `url`. */
function providerStartUrl(url: string, provider: string, redirectTo: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const start = new URL(`/auth/oidc/${encodeURIComponent(provider)}/start`, new URL(url, base));
  start.searchParams.set("redirect_to", redirectTo);
  return start.toString();
}

function defaultLiveUrl(url: string): string | null {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  try {
    const resolved = new URL(url, base);
    resolved.protocol = resolved.protocol === "https:" ? "wss:" : "ws:";
    return resolved.toString();
  } catch {
    return null;
  }
}

/** The access token's lifetime from its own iat and exp, so a skewed clock here does not matter. */
function lifetimeMs(payload: AuthPayload): number {
  try {
    const part = payload.accessToken.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "="))) as { iat?: number; exp?: number };
    if (typeof claims.exp === "number" && typeof claims.iat === "number") return (claims.exp - claims.iat) * 1000;
  } catch {
    // not a JWT we can read: fall back to the payload's expiry
  }
  return Date.parse(payload.accessTokenExpiresAt) - Date.now();
}
