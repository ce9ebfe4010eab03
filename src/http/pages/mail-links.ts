import type { FastifyInstance, FastifyReply } from "fastify";
import type { MessageKey } from "../../i18n/i18n";
import { MailTokenArgs, RequestPasswordResetArgs, ResetPasswordArgs } from "../../graphql/types/inputs";
import type { Origin } from "../../auth/accounts/accounts";
import { html } from "./html";
import { formErrors, validateAs, type PageModule, type PagesKit, type PageRequest } from "./pages";
import { errorSummary, field, hiddenFields, notice, pageUrl, type FormErrors } from "./view";

/**
 * The pages mailed links open (docs/pages.md#mail-links): /auth/forgot-password asks for a link;
 * reset-password, verify-email, confirm-email-change and cancel-email-change spend one. A GET only
 * shows a form with the token in it: mail scanners that fetch every link cannot spend it.
 */
export const mailLinkPages: PageModule = (app, kit) => {
  const { recovery, verification, emailChange } = kit.deps;

  function forgotForm(page: PageRequest, errors: FormErrors = {}, email = "", status = 200): FastifyReply {
    const { view } = page;
    const main = html`${errorSummary(view, errors)}
<p>${view.t.t("forgot.intro")}</p>
<form method="post" action="/auth/forgot-password" novalidate>
${hiddenFields(view)}
${field(view, errors, { name: "email", label: "field.email", type: "email", autocomplete: "username", value: email, autofocus: true })}
<button type="submit" class="primary">${view.t.t("forgot.submit")}</button>
</form>`;
    return page.render(view.t.t("forgot.title"), main, { status });
  }

  kit.get(app, "/auth/forgot-password", (page) => forgotForm(page));
  kit.post(app, "/auth/forgot-password", async (page) => {
    const email = page.form.email ?? "";
    const invalid = await validateAs(RequestPasswordResetArgs, { email });
    if (Object.keys(invalid).length > 0) return forgotForm(page, invalid, email, 400);
    try {
      await recovery.requestPasswordReset(email, page.origin);
    } catch (error) {
      const { errors, status } = formErrors(page, error, () => "email");
      return forgotForm(page, errors, email, status);
    }
    // The same answer whether or not the address has an account, as requestPasswordReset's.
    return page.render(page.view.t.t("forgot.title"), html`${notice(page.view.t.t("forgot.sent", { email }))}<p><a href="${pageUrl(page.view, "/auth/sign-in")}">${page.view.t.t("link.signIn")}</a></p>`);
  });

  function resetForm(page: PageRequest, token: string, errors: FormErrors = {}, status = 200): FastifyReply {
    const { view } = page;
    if (!token) return missingToken(page, "reset.title");
    const main = html`${errorSummary(view, errors)}
<form method="post" action="/auth/reset-password" novalidate>
${hiddenFields(view)}<input type="hidden" name="token" value="${token}">
<input type="text" name="username" autocomplete="username" hidden>
${field(view, errors, { name: "newPassword", label: "field.newPassword", type: "password", autocomplete: "new-password", hint: "hint.password", autofocus: true })}
<button type="submit" class="primary">${view.t.t("reset.submit")}</button>
</form>`;
    return page.render(view.t.t("reset.title"), main, { status });
  }

  kit.get(app, "/auth/reset-password", (page) => resetForm(page, page.param("token")));
  kit.post(app, "/auth/reset-password", async (page) => {
    const input = { token: page.form.token ?? "", newPassword: page.form.newPassword ?? "" };
    const invalid = await validateAs(ResetPasswordArgs, input);
    if (Object.keys(invalid).length > 0) return resetForm(page, input.token, { ...invalid, ...(invalid.token ? { form: invalid.token } : {}) }, 400);
    try {
      await recovery.resetPassword(input.token, input.newPassword, page.origin);
    } catch (error) {
      const { errors, status } = formErrors(page, error, (reason) => (reason === "INVALID_INPUT" ? "newPassword" : "form"));
      return resetForm(page, input.token, errors, status);
    }
    // Every session ended, this browser's page session with them.
    kit.pageSessions.clear(page.request, page.reply);
    return done(page, "reset.title", "reset.done");
  });

  tokenPage(app, kit, "/auth/verify-email", { title: "verify.title", intro: "verify.intro", submit: "verify.submit", done: "verify.done" }, (token, origin) => verification.verify(token, origin));
  tokenPage(app, kit, "/auth/confirm-email-change", { title: "emailChange.title", intro: "emailChange.intro", submit: "emailChange.submit", done: "emailChange.done" }, (token, origin) => emailChange.confirm(token, origin));
  tokenPage(app, kit, "/auth/cancel-email-change", { title: "emailCancel.title", intro: "emailCancel.intro", submit: "emailCancel.submit", done: "emailCancel.done" }, (token, origin) => emailChange.cancel(token, origin));
};

interface TokenPageWords {
  readonly title: MessageKey;
  readonly intro: MessageKey;
  readonly submit: MessageKey;
  readonly done: MessageKey;
}

/** A link whose token is all the form needs: one button spends it. */
function tokenPage(app: FastifyInstance, kit: PagesKit, path: string, words: TokenPageWords, spend: (token: string, origin: Origin) => Promise<unknown>): void {
  const form = (page: PageRequest, token: string, errors: FormErrors = {}, status = 200): FastifyReply => {
    if (!token) return missingToken(page, words.title);
    const main = html`${errorSummary(page.view, errors)}
<p>${page.view.t.t(words.intro)}</p>
<form method="post" action="${path}">
${hiddenFields(page.view)}<input type="hidden" name="token" value="${token}">
<button type="submit" class="primary">${page.view.t.t(words.submit)}</button>
</form>`;
    return page.render(page.view.t.t(words.title), main, { status });
  };
  kit.get(app, path, (page) => form(page, page.param("token")));
  kit.post(app, path, async (page) => {
    const token = page.form.token ?? "";
    const invalid = await validateAs(MailTokenArgs, { token });
    if (invalid.token) return form(page, token, { form: invalid.token }, 400);
    try {
      await spend(token, page.origin);
    } catch (error) {
      const { errors, status } = formErrors(page, error);
      return form(page, token, errors, status);
    }
    return done(page, words.title, words.done);
  });
}

function missingToken(page: PageRequest, title: MessageKey): FastifyReply {
  return page.render(page.view.t.t(title), html`${notice(page.view.t.t("link.missing"))}<p><a href="/auth/sign-in">${page.view.t.t("link.signIn")}</a></p>`, { status: 400 });
}

function done(page: PageRequest, title: MessageKey, text: MessageKey): FastifyReply {
  return page.render(page.view.t.t(title), html`${notice(page.view.t.t(text))}<p><a href="${pageUrl(page.view, "/auth/sign-in")}">${page.view.t.t("link.signIn")}</a></p>`);
}
