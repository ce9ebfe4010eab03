import type { AuditStore } from "./ports/audit";
import type { FederationStateStore } from "./ports/federation";
import type { IdentityStore } from "./ports/identities";
import type { KeySetStore } from "./ports/key-set";
import type { LimiterStore } from "./ports/limiter";
import type { MailTokenStore } from "./ports/mail-tokens";
import type { MfaStore } from "./ports/mfa";
import type { OAuthClientStore } from "./ports/oauth-clients";
import type { OAuthModelStore } from "./ports/oauth-models";
import type { PasskeyStore, WebAuthnChallengeStore } from "./ports/passkeys";
import type { SessionStore } from "./ports/sessions";
import type { TransitionStore } from "./ports/transitions";
import type { UserStore } from "./ports/users";

export * from "./ports/audit";
export * from "./ports/federation";
export * from "./ports/identities";
export * from "./ports/key-set";
export * from "./ports/limiter";
export * from "./ports/mail-tokens";
export * from "./ports/mfa";
export * from "./ports/oauth-clients";
export * from "./ports/oauth-models";
export * from "./ports/passkeys";
export * from "./ports/sessions";
export * from "./ports/transitions";
export * from "./ports/users";

/**
 * Everything the auth services store: the intersection of the ports, built once at the composition
 * root. Every method that changes state is one atomic step: in Redis a single command, MULTI or Lua
 * script on keys that share the user's hash tag (createUser alone takes two ordered steps, see the
 * key layout in the verifier package's keys.ts); in memory a synchronous function. The listings
 * read in two steps. The per-port contract suites in test/contract/ports hold every backend to it.
 *
 * The ports, by owner (ports/README.md has each port's methods and each transition's writes):
 * directory state (UserStore, MfaStore, PasskeyStore, IdentityStore), which a Postgres directory can implement
 * alone; hot state, in Redis whatever holds the directory (SessionStore, MailTokenStore, AuditStore,
 * KeySetStore, LimiterStore, WebAuthnChallengeStore, FederationStateStore); and TransitionStore, the atomic steps that
 * change the directory and end sessions or consume a mail token together.
 */
export interface Store
  extends UserStore,
    SessionStore,
    MfaStore,
    PasskeyStore,
    WebAuthnChallengeStore,
    MailTokenStore,
    TransitionStore,
    AuditStore,
    KeySetStore,
    LimiterStore,
    IdentityStore,
    FederationStateStore,
    OAuthClientStore,
    OAuthModelStore {
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
