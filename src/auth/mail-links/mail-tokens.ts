import { createHash, randomBytes } from "node:crypto";
import { isId } from "@revocable-auth/verifier/internal";
import type { Clock } from "../../clock";
import { mailDisabled } from "../../errors";
import { isLocale, Translator } from "../../i18n/i18n";
import type { MailTokenStore, PresentedMailToken, TransitionStore, UserStore } from "../../store/store";
import type { Audit } from "../audit/audit";
import type { Outbox } from "./outbox";
import type { Throttle } from "../abuse/throttle";

/** 256 random bits: far past OWASP's and NIST's floor, so a plain SHA-256 is a safe stored form. */
const SECRET_BYTES = 32;
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The account a token goes to when the address has none: the same store write happens either way,
 * so a request for an unknown address costs what one for a known address costs. No user has this id.
 */
export const DECOY_USER_ID = "nobody";

export interface MintedToken {
  /** `<userId>.<secret>`: what the link carries; never stored or logged. */
  readonly token: string;
  /** What the store keeps. */
  readonly hash: string;
}

const hashSecret = (secret: string) => createHash("sha256").update(secret).digest("base64url");

export function mintMailToken(userId: string): MintedToken {
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { token: `${userId}.${secret}`, hash: hashSecret(secret) };
}

/** The token a link presented, ready for the store; null when it cannot be one of ours. */
export function presentedMailToken(token: string, clock: Clock): PresentedMailToken | null {
  const dot = token.lastIndexOf(".");
  const userId = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  if (dot < 1 || !isId(userId) || userId === DECOY_USER_ID || !SECRET_SHAPE.test(secret)) return null;
  return { userId, hash: hashSecret(secret), now: clock.now() };
}

/**
 * `${appUrl}/<path>#token=…`: in the fragment, the token stays out of server logs and Referer headers.
 * The hosted pages work without script, which cannot read a fragment, so their links carry it as
 * `?token=`: the pages send no Referer, log no query, and spend it only on a POST (docs/pages.md#mail-links).
 */
export const mailLink = (appUrl: string, path: string, token: string, tokenInQuery = false) =>
  `${appUrl}/${path}${tokenInQuery ? "?" : "#"}token=${encodeURIComponent(token)}`;

/** "30 minutes", "24 hours" ("30 Minuten" for de): for the mail's "open this link within …", in the mail's language. */
export function describeTtl(seconds: number, locale?: string): string {
  const [amount, unit] = seconds % 3600 === 0 ? [seconds / 3600, "hour"] as const : seconds % 60 === 0 ? [seconds / 60, "minute"] as const : [seconds, "second"] as const;
  const messages = new Translator(isLocale(locale) ? locale : "en");
  return amount === 1 ? messages.t(`mail.ttl.${unit}`) : messages.t(`mail.ttl.${unit}s`, { n: String(amount) });
}

/** What every mailed-link flow is built from, at the composition root. */
export interface MailFlowDeps {
  readonly store: Pick<MailTokenStore, "putMailToken" | "readMailToken"> & Pick<UserStore, "findUserIdByEmail"> & Pick<TransitionStore, "verifyEmail">;
  readonly outbox: Outbox;
  readonly clock: Clock;
  /** APP_URL: links are built from it alone, never from a request's Host or X-Forwarded-Host. */
  readonly appUrl: string;
  /** The links go to the hosted pages (appUrl is their base): the token rides in the query. */
  readonly tokenInQuery?: boolean;
  /** Without them (tests of the domain alone) nothing is throttled or audited. */
  readonly throttle?: Throttle;
  readonly audit?: Audit;
}

/** The request's language for a mail it causes, when it named one. */
export const localeOf = (origin: { readonly locale?: string }): { locale?: string } => (origin.locale ? { locale: origin.locale } : {});

/** MAIL_URL=off turns the flows off: each answers MAIL_DISABLED before doing anything. */
export function requireMail(outbox: Outbox): void {
  if (!outbox.enabled) throw mailDisabled();
}
