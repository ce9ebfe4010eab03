import { PROVIDER_ERRORS } from "../../auth/oauth/interactions";
import { translator } from "../../i18n/i18n";
import { html } from "./html";
import { errorSummary, field, hiddenFields, layout, passkeyForm, passwordForm, providerLinks, type Brand, type FieldError, type FormErrors, type PageView } from "./view";

/**
 * The OAuth provider's interaction pages (sign-in, second factor, consent), in the hosted pages'
 * layout, catalogs and branding. src/http/oauth.ts routes them and OAuthInteractions decides them
 * (the same Accounts.login, Mfa.verify and throttles as /auth/sign-in and /auth/mfa); these only
 * render. They are not a PageModule of HOSTED_PAGES: the interaction must work with HOSTED_PAGES=off
 * too, and its CSRF token is bound to the interaction, not to the pages' cookie.
 */

/** One interaction request's view: its language from Accept-Language, its CSRF token, the brand. */
export function interactionView(acceptLanguage: string | undefined, csrfToken: string, brand: Brand): PageView {
  return { t: translator(acceptLanguage), csrfToken, redirectTo: null, brand };
}

/** Which field an interaction error belongs next to, as on /auth/sign-in: the password's, the passkey's, or the form's. */
function signInErrors(error: FieldError | null, at: "password" | "passkey"): FormErrors {
  if (error === null) return {};
  if (at === "passkey") return { [error.reason === "INVALID_CREDENTIALS" || error.reason === "PASSKEY_NOT_VERIFIED" || error.reason === "INVALID_INPUT" ? "passkey" : "form"]: error };
  return { [error.reason === "INVALID_CREDENTIALS" ? "password" : "form"]: error };
}

export interface InteractionSignIn {
  readonly action: string;
  readonly clientName: string;
  readonly email: string;
  readonly error: FieldError | null;
  /** Which control the error came from. */
  readonly errorAt: "password" | "passkey";
  /** The passkey form's URLs (PASSKEYS on), or null. */
  readonly passkey: { readonly action: string; readonly options: string } | null;
  /** A button-styled link per sign-in provider, each to this interaction's own start URL. */
  readonly providers: readonly { readonly label: string; readonly href: string }[];
}

/** The messages of the catalogs for what the interaction itself says (the API's own errors keep theirs). */
function translated(view: PageView, error: FieldError | null): FieldError | null {
  if (error?.reason === "SIGN_IN_AGAIN") return { ...error, message: view.t.t("oauth.signInAgain") };
  if (error && PROVIDER_ERRORS.has(error.reason)) return { ...error, message: view.t.t("oauth.providerFailed") };
  return error;
}

/** /auth/sign-in's controls, for this interaction: password, passkey (conditional UI and a button), a button per provider. */
export function interactionSignInPage(view: PageView, { action, clientName, email, error, errorAt, passkey, providers }: InteractionSignIn): string {
  const { t } = view;
  const errors = signInErrors(translated(view, error), errorAt);
  return layout(view, {
    title: t.t("signIn.title"),
    main: html`<p>${t.t("oauth.continueTo", { client: clientName })}</p>
${errorSummary(view, errors)}
${passwordForm(view, errors, { action, email, passkey: Boolean(passkey) })}
${passkey ? passkeyForm(view, errors, passkey) : ""}
${providerLinks(view, providers)}`,
    scripts: passkey ? ["passkeys.js"] : [],
  });
}

export interface InteractionSecondFactor {
  readonly action: string;
  readonly clientName: string;
  readonly error: FieldError | null;
}

export function interactionMfaPage(view: PageView, { action, clientName, error }: InteractionSecondFactor): string {
  const { t } = view;
  const errors: FormErrors = error === null ? {} : { [error.reason === "INVALID_MFA_CODE" ? "code" : "form"]: error };
  return layout(view, {
    title: t.t("mfa.title"),
    main: html`${errorSummary(view, errors)}
<p>${t.t("oauth.mfaIntro", { client: clientName })}</p>
<form method="post" action="${action}" novalidate>
${hiddenFields(view)}
${field(view, errors, { name: "code", label: "field.code", autocomplete: "one-time-code", inputmode: "text", hint: "hint.code", autofocus: true })}
<button type="submit" class="primary">${t.t("mfa.submit")}</button>
</form>`,
  });
}

export interface InteractionConsent {
  readonly action: string;
  readonly abortAction: string;
  readonly clientName: string;
  readonly scopes: readonly string[];
}

/** Allow first: the first form of the page is the one a keyboard user reaches first. */
export function interactionConsentPage(view: PageView, { action, abortAction, clientName, scopes }: InteractionConsent): string {
  const { t } = view;
  return layout(view, {
    title: t.t("consent.title"),
    main: html`<p>${t.t("consent.intro", { client: clientName })}</p>
<ul class="scopes">${scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
<form method="post" action="${action}" class="inline">${hiddenFields(view)}<button type="submit" class="primary">${t.t("consent.allow")}</button></form>
<form method="post" action="${abortAction}" class="inline">${hiddenFields(view)}<button type="submit" class="secondary">${t.t("consent.deny")}</button></form>`,
  });
}

/** An interaction that cannot go on (expired, another browser, a forged post): what to do instead. */
export function interactionMessagePage(view: PageView, kind: "expired" | "refused"): string {
  const { t } = view;
  return layout(view, { title: t.t(`oauth.${kind}.title`), main: html`<p role="alert">${t.t(`oauth.${kind}.text`)}</p>` });
}
