import { needsSecondFactor } from "@revocable-auth/verifier/internal";
import type { FastifyReply } from "fastify";
import { LoginInput } from "../../graphql/types/inputs";
import { MfaCodeArgs } from "../../graphql/types/mfa";
import { html } from "./html";
import { formErrors, validateAs, type PageModule, type PageRequest } from "./pages";
import { errorSummary, field, hiddenFields, pageUrl, passkeyForm, passwordForm, providerLinks, type FormErrors } from "./view";

/** Which field an error of `login` or `loginWithPasskey` belongs next to. */
const signInField = (reason: string) => (reason === "INVALID_CREDENTIALS" ? "password" : reason === "PASSKEY_NOT_VERIFIED" ? "passkey" : "form");

/** /auth/sign-in (password, passkey, providers), /auth/mfa, /auth/sign-out. */
export const signInPages: PageModule = (app, kit) => {
  const { accounts, passkeys, mfa, providers, sessions } = kit.deps;

  function signInForm(page: PageRequest, errors: FormErrors = {}, email = "", status = 200): FastifyReply {
    const { view } = page;
    const t = view.t;
    const main = html`${errorSummary(view, errors)}
${passwordForm(view, errors, { action: "/auth/sign-in", email, passkey: Boolean(passkeys) })}
<p><a href="${pageUrl(view, "/auth/forgot-password")}">${t.t("signIn.forgot")}</a></p>
${passkeys ? passkeyForm(view, errors, { action: "/auth/sign-in/passkey", options: "/auth/sign-in/passkey/options" }) : ""}
${providerLinks(view, providers.map((provider) => ({ label: provider.label, href: `/auth/oidc/${provider.id}/start${view.redirectTo ? `?redirect_to=${encodeURIComponent(view.redirectTo)}` : ""}` })))}
<p><a href="${pageUrl(view, "/auth/sign-up")}">${t.t("signIn.noAccount")}</a></p>`;
    return page.render(t.t("signIn.title"), main, { status, scripts: passkeys ? ["passkeys.js"] : [] });
  }

  kit.get(app, "/auth/sign-in", (page) => signInForm(page));

  kit.post(app, "/auth/sign-in", async (page) => {
    const input = { email: page.form.email ?? "", password: page.form.password ?? "" };
    const invalid = await validateAs(LoginInput, input);
    if (Object.keys(invalid).length > 0) return signInForm(page, invalid, input.email, 400);
    try {
      return page.signedIn(await accounts.login({ ...input, device: page.device }, page.origin));
    } catch (error) {
      const { errors, status } = formErrors(page, error, signInField);
      return signInForm(page, errors, input.email, status);
    }
  });

  if (passkeys) {
    // The script's first step: a challenge for a discoverable sign-in, as passkeyLoginOptions gives.
    kit.post(app, "/auth/sign-in/passkey/options", async (page) => {
      try {
        return page.reply.type("application/json").send(await passkeys.loginOptions(null, page.origin));
      } catch (error) {
        const { errors, status } = formErrors(page, error);
        return page.reply.code(status).send({ error: errors.form });
      }
    });

    kit.post(app, "/auth/sign-in/passkey", async (page) => {
      try {
        const response: unknown = JSON.parse(page.form.response ?? "");
        return page.signedIn(await passkeys.login(response, page.device, page.origin));
      } catch (error) {
        if (error instanceof SyntaxError) return signInForm(page, { passkey: { message: "response must be the JSON of a PublicKeyCredential", reason: "INVALID_INPUT" } }, "", 400);
        const { errors, status } = formErrors(page, error, signInField);
        return signInForm(page, errors, "", status);
      }
    });
  }

  function mfaForm(page: PageRequest, errors: FormErrors = {}, status = 200): FastifyReply {
    const { view } = page;
    const main = html`${errorSummary(view, errors)}
<p>${view.t.t("mfa.intro")}</p>
<form method="post" action="/auth/mfa" novalidate>
${hiddenFields(view)}
${field(view, errors, { name: "code", label: "field.code", autocomplete: "one-time-code", inputmode: "text", hint: "hint.code", autofocus: true })}
<button type="submit" class="primary">${view.t.t("mfa.submit")}</button>
</form>`;
    return page.render(view.t.t("mfa.title"), main, { status });
  }

  /** The second step: only for a session that waits for it; anyone else goes where they belong. */
  kit.get(app, "/auth/mfa", async (page) => {
    const identity = await page.identify();
    if (!identity) return page.redirect(pageUrl(page.view, "/auth/sign-in"));
    if (!needsSecondFactor(identity.user, identity.aal)) return page.redirect(page.view.redirectTo ?? "/auth/account");
    return mfaForm(page);
  });

  kit.post(app, "/auth/mfa", async (page) => {
    const identity = await page.identify();
    if (!identity) return page.redirect(pageUrl(page.view, "/auth/sign-in"));
    const code = (page.form.code ?? "").trim();
    const invalid = await validateAs(MfaCodeArgs, { code });
    if (Object.keys(invalid).length > 0) return mfaForm(page, invalid, 400);
    try {
      return page.signedIn(await mfa.verify(identity, code, page.origin));
    } catch (error) {
      const { errors, status } = formErrors(page, error, (reason) => (reason === "INVALID_MFA_CODE" ? "code" : "form"));
      return mfaForm(page, errors, status);
    }
  });

  kit.post(app, "/auth/sign-out", async (page) => {
    const identity = await page.identify();
    if (identity) await sessions.logout(identity, page.origin);
    kit.pageSessions.clear(page.request, page.reply);
    return page.redirect("/auth/sign-in");
  });
};
