import Negotiator from "negotiator";
import { de } from "./de";
import { en, type Catalog, type MessageKey } from "./en";

export type { MessageKey } from "./en";

/** The catalogs, by BCP 47 tag; the first is the fallback. Adding a language is one file and one line. */
const CATALOGS = { en, de } as const satisfies Record<string, Catalog>;

export type Locale = keyof typeof CATALOGS;
export const LOCALES = Object.keys(CATALOGS) as Locale[];

/** One language's messages, with `{name}` placeholders filled. */
export class Translator {
  private readonly catalog: Catalog;
  constructor(readonly locale: Locale) {
    this.catalog = CATALOGS[locale];
  }

  t(key: MessageKey, values: Readonly<Record<string, string>> = {}): string {
    return this.catalog[key].replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
  }
}

/** The best catalog for an Accept-Language header (RFC 9110 12.5.4); English when none fits. */
export function negotiateLocale(acceptLanguage: string | undefined): Locale {
  if (!acceptLanguage) return "en";
  const chosen = new Negotiator({ headers: { "accept-language": acceptLanguage } }).language(LOCALES);
  return (chosen as Locale | undefined) ?? "en";
}

export const isLocale = (tag: string | undefined): tag is Locale => tag !== undefined && (LOCALES as string[]).includes(tag);

export const isMessageKey = (key: string): key is MessageKey => key in en;

export const translator = (acceptLanguage: string | undefined) => new Translator(negotiateLocale(acceptLanguage));
