import type { MessageKey, Translator } from "../../i18n/i18n";
import { html, type Html } from "./html";
import { CSRF_FIELD } from "./csrf";

/** BRAND_NAME and BRAND_LOGO_URL. */
export interface Brand {
  readonly name: string;
  readonly logoUrl: string | null;
}

/** An error shown next to its field: the API's message and its reason code. */
export interface FieldError {
  readonly message: string;
  readonly reason: string;
}

/** Errors by field name; `form` for those that belong to no one field. */
export type FormErrors = Readonly<Record<string, FieldError>>;

/** What every page of one request shares: its language, its CSRF token, where to go after. */
export interface PageView {
  readonly t: Translator;
  readonly csrfToken: string;
  readonly redirectTo: string | null;
  readonly brand: Brand;
}

interface LayoutParts {
  readonly title: string;
  readonly main: Html;
  /** Scripts (files under /auth/assets/) this page needs: only WebAuthn does. */
  readonly scripts?: readonly string[];
}

export function layout(view: PageView, { title, main, scripts = [] }: LayoutParts): string {
  const { t, brand } = view;
  return `<!doctype html>\n${html`<html lang="${t.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${brand.name}</title>
<link rel="stylesheet" href="/auth/assets/pages.css">
${scripts.map((name) => html`<script src="/auth/assets/${name}" defer></script>`)}
</head>
<body>
<a class="skip" href="#main">${t.t("page.skip")}</a>
<header class="brand">${brand.logoUrl ? html`<img src="${brand.logoUrl}" alt="" class="logo">` : ""}<span>${brand.name}</span></header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${main}
</main>
</body>
</html>`.value}\n`;
}

interface FieldSpec {
  readonly name: string;
  readonly label: MessageKey;
  readonly type?: "email" | "password" | "text";
  readonly autocomplete: string;
  readonly value?: string;
  readonly hint?: MessageKey;
  readonly required?: boolean;
  readonly inputmode?: "numeric" | "text";
  readonly autofocus?: boolean;
}

/** A labelled input; its error (if any) right below it, tied to it by aria-describedby. */
export function field(view: PageView, errors: FormErrors, spec: FieldSpec): Html {
  const id = `field-${spec.name}`;
  const error = errors[spec.name];
  const described = [spec.hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ");
  return html`<div class="field">
<label for="${id}">${view.t.t(spec.label)}</label>
${spec.hint ? html`<p class="hint" id="${id}-hint">${view.t.t(spec.hint)}</p>` : ""}
<input id="${id}" name="${spec.name}" type="${spec.type ?? "text"}" autocomplete="${spec.autocomplete}"${spec.value ? html` value="${spec.value}"` : ""}${spec.required === false ? "" : html` required`}${spec.inputmode ? html` inputmode="${spec.inputmode}"` : ""}${described ? html` aria-describedby="${described}"` : ""}${error ? html` aria-invalid="true"` : ""}${spec.autofocus ? html` autofocus` : ""}>
${error ? errorText(`${id}-error`, error) : ""}
</div>`;
}

export const errorText = (id: string, error: FieldError): Html => html`<p class="error" id="${id}">${error.message} <span class="reason">(${error.reason})</span></p>`;

/** The form-level error (and a list of the field errors), announced when the page loads. */
export function errorSummary(view: PageView, errors: FormErrors): Html {
  const entries = Object.entries(errors);
  if (entries.length === 0) return html``;
  return html`<div class="alert" role="alert" id="form-errors">
<h2>${view.t.t("error.heading")}</h2>
<ul>${entries.map(([name, error]) =>
    name === "form" ? html`<li>${error.message} <span class="reason">(${error.reason})</span></li>` : html`<li><a href="#field-${name}">${error.message}</a></li>`,
  )}</ul>
</div>`;
}

export const notice = (text: string): Html => html`<p class="notice" role="status">${text}</p>`;

/** The hidden fields every form carries: its CSRF token, and where to go after. */
export function hiddenFields(view: PageView): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${view.csrfToken}">${view.redirectTo ? html`<input type="hidden" name="redirect_to" value="${view.redirectTo}">` : ""}`;
}

/** A pages URL that keeps redirect_to. */
export function pageUrl(view: PageView, path: string): string {
  return view.redirectTo ? `${path}?redirect_to=${encodeURIComponent(view.redirectTo)}` : path;
}

/** A form with one button that POSTs `fields` to `action`. */
export function buttonForm(view: PageView, action: string, label: string, fields: Readonly<Record<string, string>> = {}, kind = "secondary"): Html {
  return html`<form method="post" action="${action}" class="inline">${hiddenFields(view)}${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}<button type="submit" class="${kind}">${label}</button></form>`;
}

/**
 * The email and password form of a sign-in (/auth/sign-in, the OAuth interaction): `passkey` adds
 * the browser's passkey autofill to the email field (conditional UI).
 */
export function passwordForm(view: PageView, errors: FormErrors, { action, email, passkey }: { readonly action: string; readonly email: string; readonly passkey: boolean }): Html {
  return html`<form method="post" action="${action}" novalidate>
${hiddenFields(view)}
${field(view, errors, { name: "email", label: "field.email", type: "email", autocomplete: passkey ? "username webauthn" : "username", value: email, autofocus: !email })}
${field(view, errors, { name: "password", label: "field.password", type: "password", autocomplete: "current-password", autofocus: Boolean(email) })}
<button type="submit" class="primary">${view.t.t("signIn.submit")}</button>
</form>`;
}

/**
 * The passkey's form: hidden until templates/pages/passkeys.js shows it (no WebAuthn without the
 * script), which fetches the ceremony's options from `options` and posts the credential to `action`.
 */
export function passkeyForm(view: PageView, errors: FormErrors, urls: { readonly action: string; readonly options: string }): Html {
  return html`<form method="post" action="${urls.action}" id="passkey-form" data-options="${urls.options}" hidden>
${hiddenFields(view)}<input type="hidden" name="response" value="">
<button type="button" class="secondary" id="passkey-button">${view.t.t("signIn.passkey")}</button>
${errors.passkey ? errorText("field-passkey-error", errors.passkey) : ""}
</form>`;
}

/** One button-styled link per sign-in provider ("Sign in with <label>"), each to its start URL. */
export function providerLinks(view: PageView, providers: readonly { readonly label: string; readonly href: string }[]): Html {
  if (providers.length === 0) return html``;
  return html`<ul class="providers" aria-label="${view.t.t("signIn.or")}">${providers.map(
    (provider) => html`<li><a class="button secondary" href="${provider.href}">${view.t.t("signIn.provider", { provider: provider.label })}</a></li>`,
  )}</ul>`;
}
