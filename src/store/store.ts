import type { AuditStore } from "./ports/audit";
import type { KeySetStore } from "./ports/key-set";
import type { LimiterStore } from "./ports/limiter";
import type { MailTokenStore } from "./ports/mail-tokens";
import type { MfaStore } from "./ports/mfa";
import type { PasskeyStore, WebAuthnChallengeStore } from "./ports/passkeys";
import type { SessionStore } from "./ports/sessions";
import type { TransitionStore } from "./ports/transitions";
import type { UserStore } from "./ports/users";

export * from "./ports/audit";
export * from "./ports/key-set";
export * from "./ports/limiter";
export * from "./ports/mail-tokens";
export * from "./ports/mfa";
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
 * The ports, by owner (src/store/ports/, one interface each; a service asks for the ones it uses):
 *
 * - Directory: UserStore (users, addresses, password hashes, roles), MfaStore (the TOTP factor and
 *   recovery codes), PasskeyStore. A Postgres directory implements these alone.
 * - Hot state, in Redis whatever holds the directory: SessionStore (sessions, the cutoff, revoked
 *   access tokens, the per-request read), MailTokenStore, AuditStore, KeySetStore, LimiterStore,
 *   WebAuthnChallengeStore, and MfaStore's pending enrolment and failure count.
 * - Both: TransitionStore, the atomic steps that change the directory and end sessions or consume
 *   a mail token together (a password change, a reset, disabling a user, an email change, removing
 *   a passkey). The per-request read also sees the directory: whether the user exists, is disabled,
 *   has mfaEnabled, and createSession checks the password hash or passkey it was given. Split
 *   across two stores, those facts reach Redis as a compact access record that every directory
 *   write which changes them (createUser, changeAccess, enableTotp, disableMfa, the transitions)
 *   refreshes after its Postgres write.
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
    LimiterStore {
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
