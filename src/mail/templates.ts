import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MAIL_TEMPLATES, type Mail, type MailTemplate } from "../auth/mail-links/outbox";
import { isLocale, isMessageKey, Translator } from "../i18n/i18n";
import type { MailMessage } from "./mailer";

interface Template {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** `{{t:key}}`: a message of the catalogs the pages use (src/i18n), in the mail's language; its `{name}`s are the mail's values. */
const MESSAGE = /\{\{t:([\w.]+)\}\}/g;
const ANY_PLACEHOLDER = /\{\{(?:t:([\w.]+)|(\w+))\}\}/g;

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/**
 * The mail templates, read once at start from MAIL_TEMPLATES_DIR: `<name>.txt`, whose first line is
 * `Subject: …` and the rest the plain-text body, and `<name>.html`. A team replaces the folder to
 * restyle or translate the mails. Placeholders are `{{name}}`; HTML gets them escaped. `{{t:key}}`
 * is a message of the pages' catalogs, in the language of the request that caused the mail.
 */
export class MailTemplates {
  private constructor(private readonly templates: ReadonlyMap<MailTemplate, Template>) {}

  /** Throws naming every missing or malformed file, so a bad folder stops the start. */
  static load(dir: string): MailTemplates {
    const problems: string[] = [];
    const templates = new Map<MailTemplate, Template>();
    for (const name of MAIL_TEMPLATES) {
      try {
        const [first = "", ...body] = readFileSync(join(dir, `${name}.txt`), "utf8").split("\n");
        const subject = /^Subject: (.+)$/.exec(first.trimEnd())?.[1];
        if (subject === undefined) throw new Error(`${name}.txt must start with a "Subject: …" line`);
        const template = { subject, text: body.join("\n").replace(/^\n+/, ""), html: readFileSync(join(dir, `${name}.html`), "utf8") };
        const unknown = [...`${template.subject}${template.text}${template.html}`.matchAll(MESSAGE)].map((match) => match[1]!).filter((key) => !isMessageKey(key));
        if (unknown.length > 0) throw new Error(`${name} names messages no catalog has: ${unknown.join(", ")}`);
        templates.set(name, template);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    if (problems.length > 0) throw new Error(`Mail templates in ${dir}: ${problems.join("; ")}`);
    return new MailTemplates(templates);
  }

  render({ to, template, values, locale }: Mail): MailMessage {
    const { subject, text, html } = this.templates.get(template)!;
    const messages = new Translator(isLocale(locale) ? locale : "en");
    const value = (name: string, whole: string, escape: (value: string) => string) => (name in values ? escape(values[name]!) : whole);
    // One pass, so a value is never read as a placeholder; a message's own text is escaped like a
    // value, then its {name}s are filled with escaped values.
    const fill = (source: string, escape: (value: string) => string) =>
      source.replace(ANY_PLACEHOLDER, (whole, key: string | undefined, name: string | undefined) => {
        if (name !== undefined) return value(name, whole, escape);
        return isMessageKey(key!) ? escape(messages.t(key)).replace(/\{(\w+)\}/g, (inner, inside: string) => value(inside, inner, escape)) : whole;
      });
    return { to, subject: fill(subject, (v) => v.replace(/[\r\n]/g, " ")), text: fill(text, (v) => v), html: fill(html, escapeHtml) };
  }
}
