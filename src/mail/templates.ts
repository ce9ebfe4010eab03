import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MAIL_TEMPLATES, type Mail, type MailTemplate } from "../auth/mail-links/outbox";
import type { MailMessage } from "./mailer";

interface Template {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

const PLACEHOLDER = /\{\{(\w+)\}\}/g;

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/**
 * The mail templates, read once at start from MAIL_TEMPLATES_DIR: `<name>.txt`, whose first line is
 * `Subject: …` and the rest the plain-text body, and `<name>.html`. A team replaces the folder to
 * restyle or translate the mails. Placeholders are `{{name}}`; HTML gets them escaped.
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
        templates.set(name, { subject, text: body.join("\n").replace(/^\n+/, ""), html: readFileSync(join(dir, `${name}.html`), "utf8") });
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    if (problems.length > 0) throw new Error(`Mail templates in ${dir}: ${problems.join("; ")}`);
    return new MailTemplates(templates);
  }

  render({ to, template, values }: Mail): MailMessage {
    const { subject, text, html } = this.templates.get(template)!;
    const fill = (source: string, escape: (value: string) => string) =>
      source.replace(PLACEHOLDER, (whole, name: string) => (name in values ? escape(values[name]!) : whole));
    return { to, subject: fill(subject, (v) => v.replace(/[\r\n]/g, " ")), text: fill(text, (v) => v), html: fill(html, escapeHtml) };
  }
}
