import type { RevocationEvent, RevocationKind } from "./revocation";

/**
 * The pub/sub channel every auth API instance publishes its revocations on, and every service
 * holding live connections listens to (docs/live.md). On a Redis Cluster it is a sharded channel
 * (SPUBLISH/SSUBSCRIBE): the `{live}` hash tag pins it to one slot.
 */
export const LIVE_CHANNEL = "auth:{live}:events";

/** A session began: other devices of the user hear "you were signed in somewhere else". */
export interface SignedInEvent {
  readonly userId: string;
  readonly sessionId: string;
  readonly device: string | null;
  /** Epoch ms. */
  readonly at: number;
  /** The sign-in provider (its OIDC_PROVIDERS name) when the session began with one. */
  readonly provider?: string;
}

/** A sign-in provider's identity was linked to, or unlinked from, a user: their other devices hear of it. */
export interface IdentityChangedEvent {
  readonly userId: string;
  readonly change: "linked" | "unlinked";
  /** The provider's name in OIDC_PROVIDERS. */
  readonly provider: string;
  /** The session it was done from, which is not told; absent when a provider sign-in linked it. */
  readonly sessionId?: string;
  /** Epoch ms. */
  readonly at: number;
}

/**
 * An OAuth client's registration changed (updated, its secret rotated, deleted): every auth API
 * instance forgets what it kept of it. Names no user; services other than the auth API ignore it.
 */
export interface OAuthClientChangedEvent {
  readonly clientId: string;
  /** Epoch ms. */
  readonly at: number;
}

export type LiveEvent =
  | ({ readonly type: "revoked" } & RevocationEvent)
  | ({ readonly type: "signed_in" } & SignedInEvent)
  | ({ readonly type: "identity_changed" } & IdentityChangedEvent)
  | ({ readonly type: "oauth_client_changed" } & OAuthClientChangedEvent);

/** The events about a user, which live connections act on. */
export type UserLiveEvent = Exclude<LiveEvent, { readonly type: "oauth_client_changed" }>;

/** The message's version: a listener ignores messages of a version it does not know. */
const VERSION = 1;

const KINDS: ReadonlySet<string> = new Set<RevocationKind>([
  "logout",
  "session",
  "all_sessions",
  "other_sessions",
  "password_change",
  "refresh_reuse",
  "user_disabled",
  "session_cap",
  "roles_changed",
  "passkey_removed",
  "password_reset",
  "email_change",
  "email_change_cancelled",
  "provider_logout",
]);

/** The message published on LIVE_CHANNEL: compact JSON, ids only, never a token. */
export function encodeLiveEvent(event: LiveEvent): string {
  return JSON.stringify({ v: VERSION, ...event });
}

/** The event in a message, or null for anything malformed or of another version. */
export function parseLiveEvent(message: string): LiveEvent | null {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(message) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null || raw.v !== VERSION) return null;
  const { type, userId, sessionId, keepSessionId, at } = raw;
  if (type === "oauth_client_changed") return typeof raw.clientId === "string" && typeof at === "number" ? { type, clientId: raw.clientId, at } : null;
  if (typeof userId !== "string" || typeof at !== "number" || !optionalString(sessionId) || !optionalString(keepSessionId)) return null;
  if (type === "revoked") {
    if (typeof raw.kind !== "string" || !KINDS.has(raw.kind) || !optionalString(raw.device)) return null;
    return {
      type,
      kind: raw.kind as RevocationKind,
      userId,
      at,
      ...(sessionId === undefined ? {} : { sessionId }),
      ...(keepSessionId === undefined ? {} : { keepSessionId }),
      ...(raw.device === undefined ? {} : { device: raw.device }),
    };
  }
  if (type === "signed_in" && typeof sessionId === "string" && (raw.device === null || typeof raw.device === "string") && optionalString(raw.provider)) {
    return { type, userId, sessionId, device: raw.device, at, ...(raw.provider === undefined ? {} : { provider: raw.provider }) };
  }
  if (type === "identity_changed" && (raw.change === "linked" || raw.change === "unlinked") && typeof raw.provider === "string") {
    return { type, userId, change: raw.change, provider: raw.provider, at, ...(sessionId === undefined ? {} : { sessionId }) };
  }
  return null;
}

const optionalString = (value: unknown): value is string | undefined => value === undefined || typeof value === "string";
