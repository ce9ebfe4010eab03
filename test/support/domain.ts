import { hkdfSync } from "node:crypto";
import pino from "pino";
import type { RevocationEvent } from "@revocable-auth/verifier/internal";
import { Throttle } from "../../src/auth/abuse/throttle";
import { Accounts, type Origin } from "../../src/auth/accounts/accounts";
import { Passwords } from "../../src/auth/accounts/passwords";
import { Audit } from "../../src/auth/audit/audit";
import { AuditTrail } from "../../src/auth/audit/audit-trail";
import { EmailChange } from "../../src/auth/mail-links/email-change";
import { EmailVerification } from "../../src/auth/mail-links/email-verification";
import type { MailFlowDeps } from "../../src/auth/mail-links/mail-tokens";
import type { Mail, Outbox } from "../../src/auth/mail-links/outbox";
import { Recovery } from "../../src/auth/mail-links/recovery";
import { Mfa } from "../../src/auth/mfa/mfa";
import { SecretBox } from "../../src/auth/mfa/secret-box";
import { Passkeys } from "../../src/auth/passkeys/passkeys";
import { Sessions, type AuthResult } from "../../src/auth/sessions/sessions";
import { Authenticator, type Identity } from "../../src/auth/tokens/authenticator";
import { KeySet } from "../../src/auth/tokens/signing-keys";
import { Tokens } from "../../src/auth/tokens/tokens";
import { keyMaterial, loadConfig, type Config } from "../../src/config";
import { Metrics } from "../../src/metrics";
import { MemoryStore } from "../../src/store/memory/memory-store";
import { TEST_HASHING, testEnv } from "./api";
import { STEP_MS, stepAt } from "./totp";

/** A clock the test moves; it starts mid-way through a TOTP step, so a code's step never turns by itself. */
export interface DomainClock {
  now(): number;
  advance(ms: number): void;
}

/** The services of the domain as server.ts composes them, on one MemoryStore, with what they told the outside world. */
export interface Domain {
  readonly config: Config;
  readonly clock: DomainClock;
  readonly store: MemoryStore;
  readonly tokens: Tokens;
  readonly sessions: Sessions;
  readonly accounts: Accounts;
  readonly mfa: Mfa;
  readonly passkeys: Passkeys;
  readonly recovery: Recovery;
  readonly emailVerification: EmailVerification;
  readonly emailChange: EmailChange;
  /** Every revocation the services announced, in order. */
  readonly revocations: RevocationEvent[];
  /** Every mail the flows posted, in order. */
  readonly mails: Mail[];
  /** The access token's identity, checked as each request checks it (signature, then the store). */
  identify(auth: AuthResult | string): Promise<Identity>;
  /** The token the latest mail to `to` with `template` carries in its link. */
  tokenMailedTo(to: string, template: Mail["template"]): string;
  close(): void;
}

/** What a call's refusal said: its reason (TOKEN_REVOKED…), or "accepted" when it was not refused. */
export function refusal(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "accepted",
    (error: { reason?: string }) => error.reason ?? String(error),
  );
}

/** The password a domain test changes to (support/client's PASSWORD is the first). */
export const NEW_PASSWORD = "a brand new passphrase";

/** Where every domain test's requests come from. */
export const ORIGIN: Origin = { clientIp: "192.0.2.10", userAgent: "domain-test" };

/**
 * The domain's services composed as src/server.ts composes them (the same constructors, policies
 * from loadConfig), on a MemoryStore with a test clock, cheap argon2 and an outbox that keeps its
 * mail: what `npm run test:fast` tests the rules on, without HTTP or Redis.
 */
export async function composeDomain(env: Record<string, string> = {}): Promise<Domain> {
  const config = loadConfig(testEnv(null, env));
  let now = stepAt(Date.now()) * STEP_MS + STEP_MS / 2;
  const clock: DomainClock = { now: () => now, advance: (ms) => void (now += ms) };
  const store = new MemoryStore(clock);
  const logger = pino({ level: "silent" });
  const metrics = new Metrics();
  const revocations: RevocationEvent[] = [];
  const onRevoked = (event: RevocationEvent) => void revocations.push(event);
  const tokens = new Tokens({ ...config.jwt, keys: new KeySet(keyMaterial(config.jwt)), accessTokenTtl: config.accessTokenTtl, refreshTokenTtl: config.refreshTokenTtl }, clock);
  const audit = new Audit(logger, metrics, new AuditTrail(store, { maxAgeMs: config.audit.retentionDays * 86_400_000, maxPerUser: config.audit.maxEventsPerUser, maxGlobal: config.audit.maxEvents }));
  const throttle = new Throttle((spec) => store.limiter(spec), config.throttle, audit);
  const sessions = new Sessions(store, tokens, onRevoked, {
    graceMs: config.refreshReuseGraceSeconds * 1000,
    maxPerUser: config.maxSessionsPerUser,
    pending: { ttlMs: config.mfa.pendingTtlSeconds * 1000, maxPerUser: config.mfa.pendingMaxPerUser },
    audit,
    clock,
    reauthMaxAgeMs: config.reauthMaxAgeSeconds * 1000,
  });
  const passwords = await Passwords.create(null, TEST_HASHING);
  const accounts = new Accounts(store, passwords, sessions, clock, onRevoked, { throttle, audit }, { requireVerifiedEmail: config.requireVerifiedEmail });
  const mails: Mail[] = [];
  const outbox: Outbox = { enabled: true, post: (mail) => void mails.push(mail) };
  const mailFlows: MailFlowDeps = { store, outbox, clock, appUrl: config.mail.appUrl, throttle, audit };
  const recovery = new Recovery(mailFlows, accounts, config.passwordResetTtl);
  const emailVerification = new EmailVerification(mailFlows, accounts, { ttlSeconds: config.emailVerificationTtl, required: config.requireVerifiedEmail });
  const emailChange = new EmailChange(mailFlows, accounts, config.emailVerificationTtl, recovery);
  const secretBox = new SecretBox(Buffer.from(config.mfa.encryptionKey, "base64"), []);
  const mfa = new Mfa(store, secretBox, sessions, accounts, clock, { issuer: config.mfa.issuer }, { throttle, audit });
  const decoyKey = Buffer.from(hkdfSync("sha256", Buffer.from(config.mfa.encryptionKey, "base64"), Buffer.alloc(0), "domain tests", 32));
  const passkeys = new Passkeys(store, sessions, clock, config.passkeys!, { throttle, audit, decoyKey });
  const authenticator = new Authenticator(tokens, store, config.revocationFailureMode, logger);
  return {
    config,
    clock,
    store,
    tokens,
    sessions,
    accounts,
    mfa,
    passkeys,
    recovery,
    emailVerification,
    emailChange,
    revocations,
    mails,
    // As a Bearer request: the domain tests bind no token to a key.
    identify: (auth) =>
      authenticator.authenticate({
        token: typeof auth === "string" ? auth : auth.accessToken.token,
        scheme: "Bearer",
        proof: undefined,
        target: () => {
          throw new Error("a Bearer request has no DPoP target");
        },
      }),
    tokenMailedTo(to, template) {
      const mail = mails.findLast((each) => each.to === to && each.template === template);
      const link = mail?.values.link ?? mail?.values.cancelLink;
      if (!link) throw new Error(`no ${template} mail to ${to} among ${mails.length}`);
      return decodeURIComponent(link.slice(link.indexOf("#token=") + "#token=".length));
    },
    close: () => void store.close(),
  };
}
