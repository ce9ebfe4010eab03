import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describeTtl, mailLink, mintMailToken, presentedMailToken } from "../../src/auth/mail-links/mail-tokens";
import { MAIL_TEMPLATES } from "../../src/auth/mail-links/outbox";
import { MailTemplates } from "../../src/mail/templates";

const SHIPPED = resolve(__dirname, "../../templates/mail");
const clock = { now: () => 1_000 };

describe("mail templates", () => {
  it("ships a subject, a text and an HTML body for every template, filling every placeholder", () => {
    const templates = MailTemplates.load(SHIPPED);
    for (const template of MAIL_TEMPLATES) {
      const mail = templates.render({ to: "ann@example.com", template, values: { email: "ann@example.com", link: "https://app/x#token=t", cancelLink: "https://app/cancel#token=c", ttl: "1 hour", newEmail: "new@example.com", remaining: "9", by: "by an administrator", name: "YubiKey", device: '"laptop"' } });
      expect(mail.subject.length).toBeGreaterThan(0);
      for (const part of [mail.subject, mail.text, mail.html]) expect(part).not.toMatch(/\{\{/);
      expect(mail.html).toContain("ann@example.com");
    }
  });

  it("escapes values in HTML, keeps them as they are in text, and keeps subjects on one line", () => {
    const templates = MailTemplates.load(SHIPPED);
    const mail = templates.render({ to: "x@example.com", template: "account-exists", values: { email: '<b>"x"</b>\r\nBcc: y' } });
    expect(mail.html).toContain("&lt;b&gt;&quot;x&quot;&lt;/b&gt;");
    expect(mail.html).not.toContain("<b>");
    expect(mail.text).toContain('<b>"x"</b>');
    expect(mail.subject).not.toMatch(/[\r\n]/);
  });

  it("takes {{t:key}} text from the pages' catalogs in the mail's language, English when it has none", () => {
    const templates = MailTemplates.load(SHIPPED);
    const values = { email: "ann@example.com", link: "https://api/auth/reset-password?token=t", ttl: "30 minutes" };
    const german = templates.render({ to: "ann@example.com", template: "password-reset", values, locale: "de" });
    expect(german.subject).toBe("Passwort zurücksetzen");
    expect(german.text).toContain("Jemand möchte das Passwort des Kontos für ann@example.com zurücksetzen.");
    expect(german.html).toContain('<a href="https://api/auth/reset-password?token=t">Passwort zurücksetzen</a>');
    for (const locale of [undefined, "xx", "en"]) {
      const english = templates.render({ to: "ann@example.com", template: "password-reset", values, ...(locale ? { locale } : {}) });
      expect(english.subject).toBe("Reset your password");
      expect(english.text).toContain("Someone asked to reset the password of the account for ann@example.com.");
    }
  });

  it("escapes a message's text and the values in it in HTML, and never reads a value as a placeholder", () => {
    const templates = MailTemplates.load(SHIPPED);
    const mail = templates.render({ to: "x@example.com", template: "verify-email", values: { email: "<b>{{link}}</b>", link: "https://api/l", ttl: "1 hour" } });
    expect(mail.html).toContain("&quot;Forgot password&quot;");
    expect(mail.html).toContain("Confirm that &lt;b&gt;{{link}}&lt;/b&gt; is your address");
    expect(mail.text).toContain("Confirm that <b>{{link}}</b> is your address");
  });

  it("refuses a template that names a message no catalog has", () => {
    const dir = mkdtempSync(join(tmpdir(), "templates-"));
    try {
      for (const template of MAIL_TEMPLATES) {
        writeFileSync(join(dir, `${template}.txt`), "Subject: {{t:mail.reset.subject}}\n\nbody");
        writeFileSync(join(dir, `${template}.html`), "<p>body</p>");
      }
      writeFileSync(join(dir, "password-changed.html"), "<p>{{t:mail.no.such}}</p>");
      expect(() => MailTemplates.load(dir)).toThrow(/password-changed names messages no catalog has: mail\.no\.such/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a folder with a missing or malformed template, naming each", () => {
    const dir = mkdtempSync(join(tmpdir(), "templates-"));
    try {
      writeFileSync(join(dir, "password-reset.txt"), "no subject line\n\nbody");
      writeFileSync(join(dir, "password-reset.html"), "<p>body</p>");
      expect(() => MailTemplates.load(dir)).toThrow(/password-reset\.txt must start with a "Subject: …" line.*password-changed\.txt/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("mail tokens", () => {
  it("carry the user id and 256 random bits; only their hash is kept, and a presented token hashes the same", () => {
    const minted = mintMailToken("user-1");
    const [userId, secret] = minted.token.split(".");
    expect(userId).toBe("user-1");
    expect(Buffer.from(secret!, "base64url")).toHaveLength(32);
    expect(minted.hash).not.toContain(secret);
    expect(presentedMailToken(minted.token, clock)).toEqual({ userId: "user-1", hash: minted.hash, now: 1_000 });
  });

  it("refuses anything else before the store sees it", () => {
    for (const token of ["", "no-dot", "user.short", `.${"A".repeat(43)}`, `nobody.${"A".repeat(43)}`, `u.${"A".repeat(42)}!`]) {
      expect(presentedMailToken(token, clock)).toBeNull();
    }
  });

  it("builds links from the base URL with the token in the fragment, and says how long they last", () => {
    expect(mailLink("https://app.example.com", "reset-password", "u.s")).toBe("https://app.example.com/reset-password#token=u.s");
    expect([describeTtl(1800), describeTtl(3600), describeTtl(86400), describeTtl(45), describeTtl(60)]).toEqual(["30 minutes", "1 hour", "24 hours", "45 seconds", "1 minute"]);
  });

  it("says how long a link lasts in the mail's language, from the catalogs", () => {
    expect([describeTtl(1800, "de"), describeTtl(3600, "de"), describeTtl(86400, "de"), describeTtl(45, "de"), describeTtl(60, "de")]).toEqual(["30 Minuten", "1 Stunde", "24 Stunden", "45 Sekunden", "1 Minute"]);
    expect(describeTtl(1800, "xx")).toBe("30 minutes");
  });
});
