import type { FastifyReply } from "fastify";
import { isAuthError } from "../../errors";
import { RegisterInput } from "../../graphql/types/inputs";
import { html } from "./html";
import { formErrors, validateAs, type PageModule, type PageRequest } from "./pages";
import { errorSummary, field, hiddenFields, notice, pageUrl, type FormErrors } from "./view";

const signUpField = (reason: string) => (reason === "EMAIL_TAKEN" ? "email" : "form");

/** /auth/sign-up: `register`, with its mail and its REQUIRE_VERIFIED_EMAIL rule. */
export const signUpPages: PageModule = (app, kit) => {
  const { verification } = kit.deps;

  function signUpForm(page: PageRequest, errors: FormErrors = {}, email = "", status = 200): FastifyReply {
    const { view } = page;
    const t = view.t;
    const main = html`${errorSummary(view, errors)}
<form method="post" action="/auth/sign-up" novalidate>
${hiddenFields(view)}
${field(view, errors, { name: "email", label: "field.email", type: "email", autocomplete: "email", value: email, autofocus: true })}
${field(view, errors, { name: "password", label: "field.password", type: "password", autocomplete: "new-password", hint: "hint.password" })}
<button type="submit" class="primary">${t.t("signUp.submit")}</button>
</form>
<p><a href="${pageUrl(view, "/auth/sign-in")}">${t.t("signUp.haveAccount")}</a></p>`;
    return page.render(t.t("signUp.title"), main, { status });
  }

  kit.get(app, "/auth/sign-up", (page) => signUpForm(page));

  kit.post(app, "/auth/sign-up", async (page) => {
    const input = { email: page.form.email ?? "", password: page.form.password ?? "" };
    const invalid = await validateAs(RegisterInput, input);
    if (Object.keys(invalid).length > 0) return signUpForm(page, invalid, input.email, 400);
    try {
      return page.signedIn(await verification.register({ ...input, device: page.device }, page.origin));
    } catch (error) {
      // REQUIRE_VERIFIED_EMAIL=on: no session yet, for a new address and a taken one alike; the mail says which.
      if (isAuthError(error) && error.reason === "EMAIL_NOT_VERIFIED") {
        return page.render(page.view.t.t("signUp.title"), notice(page.view.t.t("signUp.checkMail", { email: input.email })));
      }
      const { errors, status } = formErrors(page, error, signUpField);
      return signUpForm(page, errors, input.email, status);
    }
  });
};
