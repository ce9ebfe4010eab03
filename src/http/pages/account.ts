import { needsSecondFactor } from "@revocable-auth/verifier/internal";
import type { FastifyReply } from "fastify";
import type { Identity } from "../../auth/tokens/authenticator";
import type { Translator } from "../../i18n/i18n";
import { enrolmentRef, type TotpEnrollment } from "../../auth/mfa/mfa";
import { ReauthenticateInput } from "../../graphql/types/inputs";
import { EnrollTotpArgs, MfaCodeArgs } from "../../graphql/types/mfa";
import { RegisterPasskeyArgs, RenamePasskeyArgs } from "../../graphql/types/passkey";
import { html, type Html } from "./html";
import { formErrors, validateAs, type PageModule, type PageRequest } from "./pages";
import { buttonForm, errorSummary, errorText, field, hiddenFields, notice, type FormErrors } from "./view";

/** What one render of the account page adds: a form's errors, or what a step shows once (a QR code, recovery codes). */
interface AccountExtras {
  readonly errors?: FormErrors;
  readonly totp?: Html;
  readonly status?: number;
  /** Show the re-authentication form: an action answered REAUTHENTICATION_REQUIRED, or the form itself was refused. */
  readonly reauthenticate?: boolean;
}

const when = (t: Translator, epochMs: number): Html => {
  const date = new Date(epochMs);
  const text = new Intl.DateTimeFormat(t.locale, { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }).format(date);
  return html`<time datetime="${date.toISOString()}">${text} UTC</time>`;
};

/** Which field of the account page an error of `reason` is shown next to, by the form it came from. */
const codeField = (name: string) => (reason: string) => (reason === "INVALID_MFA_CODE" || reason === "INVALID_INPUT" ? name : "form");

/** The re-authentication form's fields: a wrong password by the password, a wrong code by the code. */
const reauthField = (reason: string) => (reason === "INVALID_CREDENTIALS" ? "reauthPassword" : reason === "INVALID_MFA_CODE" ? "reauthCode" : "form");

/**
 * /auth/account: sessions (end one, end all), passkeys (add, rename, remove), TOTP (enrol with the
 * QR code, turn off, new recovery codes) and the recent security events. Every action is a POST
 * that calls the service behind the GraphQL mutation of the same name, then shows the page again.
 */
export const accountPages: PageModule = (app, kit) => {
  const { sessions, passkeys, mfa, auditTrail, reauthentication } = kit.deps;

  /** The signed-in identity at aal2 where the account has a second factor; else where to go instead. */
  async function signedIn(page: PageRequest): Promise<Identity | FastifyReply> {
    const identity = await page.identify();
    if (!identity) return page.redirect("/auth/sign-in");
    if (needsSecondFactor(identity.user, identity.aal)) return page.redirect("/auth/mfa");
    return identity;
  }

  async function accountPage(page: PageRequest, identity: Identity, extras: AccountExtras = {}): Promise<FastifyReply> {
    const { view } = page;
    const t = view.t;
    const errors = extras.errors ?? {};
    const [sessionList, passkeyList, events] = await Promise.all([
      sessions.list(identity.userId),
      passkeys ? passkeys.list(identity.userId) : Promise.resolve([]),
      auditTrail.forUser(identity.userId, 10, null),
    ]);
    const mfaOn = identity.user?.mfaEnabled === true;
    const reauthenticate = extras.reauthenticate === true || Object.values(errors).some((error) => error.reason === "REAUTHENTICATION_REQUIRED");
    const main = html`${errorSummary(view, errors)}
${reauthenticate ? reauthenticationForm(page, errors, identity.user?.email ?? "", mfaOn) : ""}
<p>${t.t("account.signedInAs", { email: identity.user?.email ?? "" })}</p>
${buttonForm(view, "/auth/sign-out", t.t("account.signOut"))}

<section aria-labelledby="sessions-heading">
<h2 id="sessions-heading">${t.t("account.sessions")}</h2>
<table>
<thead><tr><th scope="col">${t.t("account.device")}</th><th scope="col">${t.t("account.started")}</th><th scope="col">${t.t("account.lastUsed")}</th><td></td></tr></thead>
<tbody>${sessionList.map((session) => {
  const device = session.device ?? t.t("account.unknownDevice");
  return html`<tr><th scope="row">${device}</th><td>${when(t, session.createdAt)}</td><td>${when(t, session.lastUsedAt)}</td><td>${
    session.id === identity.sessionId
      ? html`<strong>${t.t("account.thisSession")}</strong>`
      : buttonForm(view, "/auth/account/sessions/end", t.t("account.endSession", { device }), { id: session.id })
  }</td></tr>`;
})}</tbody>
</table>
${buttonForm(view, "/auth/account/sessions/end-all", t.t("account.signOutAll"))}
</section>

${passkeys ? html`<section aria-labelledby="passkeys-heading">
<h2 id="passkeys-heading">${t.t("account.passkeys")}</h2>
${passkeyList.length === 0 ? html`<p>${t.t("account.noPasskeys")}</p>` : html`<ul class="items">${passkeyList.map((passkey, index) => html`<li>
<span class="item-name">${passkey.name}</span> <span class="meta">${t.t("account.created")}: ${when(t, passkey.createdAt)}</span>
<form method="post" action="/auth/account/passkeys/rename" class="inline">${hiddenFields(view)}<input type="hidden" name="id" value="${passkey.id}">
<label for="rename-${index}">${t.t("account.renameLabel", { name: passkey.name })}</label>
<input id="rename-${index}" name="name" type="text" autocomplete="off" required value="${passkey.name}">
<button type="submit" class="secondary">${t.t("account.rename")}</button></form>
${buttonForm(view, "/auth/account/passkeys/remove", t.t("account.remove", { name: passkey.name }), { id: passkey.id })}
</li>`)}</ul>`}
${errors.passkey ? errorText("passkey-error", errors.passkey) : ""}
<form method="post" action="/auth/account/passkeys" id="passkey-add-form" hidden>
${hiddenFields(view)}<input type="hidden" name="response" value="">
${field(view, {}, { name: "passkeyName", label: "field.passkeyName", autocomplete: "off", required: false })}
<button type="button" class="secondary" id="passkey-add-button">${t.t("account.addPasskey")}</button>
</form>
</section>` : ""}

<section aria-labelledby="totp-heading">
<h2 id="totp-heading">${t.t("account.totp")}</h2>
${extras.totp ?? (mfaOn ? html`<p>${t.t("account.totpOn")}</p>
<form method="post" action="/auth/account/totp/recovery-codes" novalidate>${hiddenFields(view)}
${field(view, errors, { name: "codesCode", label: "field.code", autocomplete: "one-time-code", hint: "hint.code" })}
<button type="submit" class="secondary">${t.t("account.recoveryCodes")}</button></form>
<form method="post" action="/auth/account/totp/disable" novalidate>${hiddenFields(view)}
${field(view, errors, { name: "disableCode", label: "field.code", autocomplete: "one-time-code", hint: "hint.code" })}
<button type="submit" class="danger">${t.t("account.totpDisable")}</button></form>` : html`<p>${t.t("account.totpOff")}</p>
<form method="post" action="/auth/account/totp/enrol" novalidate>${hiddenFields(view)}
<input type="text" name="username" autocomplete="username" value="${identity.user?.email ?? ""}" hidden>
${field(view, errors, { name: "currentPassword", label: "field.currentPassword", type: "password", autocomplete: "current-password", required: false })}
<button type="submit" class="secondary">${t.t("account.totpEnrol")}</button></form>`)}
</section>

<section aria-labelledby="events-heading">
<h2 id="events-heading">${t.t("account.events")}</h2>
${events.edges.length === 0 ? html`<p>${t.t("account.noEvents")}</p>` : html`<table>
<thead><tr><th scope="col">${t.t("account.event")}</th><th scope="col">${t.t("account.when")}</th><th scope="col">${t.t("account.device")}</th></tr></thead>
<tbody>${events.edges.map(({ event }) => html`<tr><td><code>${event.type}</code></td><td>${when(t, event.at)}</td><td>${event.device ?? event.userAgent ?? ""}</td></tr>`)}</tbody>
</table>`}
</section>`;
    return page.render(t.t("account.title"), main, { status: extras.status ?? 200, scripts: passkeys ? ["passkeys.js"] : [] });
  }

  /**
   * A POST of the account page: signed in first, then the action; an AuthError shows the page again
   * with it, and with what `redraw` gives for it (the step the form belongs to, shown again; its errors win).
   */
  function action(
    path: string,
    run: (page: PageRequest, identity: Identity) => Promise<FastifyReply | null>,
    fieldOf?: (reason: string) => string,
    redraw: (page: PageRequest, identity: Identity, errors: FormErrors) => Promise<AccountExtras> = async () => ({}),
  ): void {
    kit.post(app, path, async (page) => {
      const identity = await signedIn(page);
      if (!("userId" in identity)) return identity;
      try {
        return (await run(page, identity)) ?? page.redirect("/auth/account");
      } catch (error) {
        const { errors, status } = formErrors(page, error, fieldOf);
        return accountPage(page, identity, { errors, status, ...(await redraw(page, identity, errors)) });
      }
    });
  }

  /** The form's input, checked as its GraphQL operation checks it; errors show under `fieldName`. */
  async function invalidInput(page: PageRequest, identity: Identity, type: new () => object, values: Record<string, unknown>, fieldName: string): Promise<FastifyReply | null> {
    const invalid = await validateAs(type, values);
    const first = Object.values(invalid)[0];
    return first ? accountPage(page, identity, { errors: { [fieldName]: first }, status: 400 }) : null;
  }

  kit.get(app, "/auth/account", async (page) => {
    const identity = await signedIn(page);
    // ?reauthenticate=1: passkeys.js comes here when adding a passkey answered REAUTHENTICATION_REQUIRED.
    return "userId" in identity ? accountPage(page, identity, { reauthenticate: page.param("reauthenticate") === "1" }) : identity;
  });

  // `reauthenticate`, as the mutation: exactly one of the password and a code, through the same
  // service and its throttles; then back to the page, where the refused action can be tried again.
  action("/auth/account/reauthenticate", async (page, identity) => {
    const password = page.form.reauthPassword || null;
    const code = page.form.reauthCode?.trim() || null;
    const invalid = await validateAs(ReauthenticateInput, { password, code });
    const first = Object.entries(invalid)[0];
    if (first) return accountPage(page, identity, { errors: { [first[0] === "password" ? "reauthPassword" : "reauthCode"]: first[1] }, status: 400, reauthenticate: true });
    await reauthentication.reauthenticate(identity, { password, code }, page.origin);
    return null;
  }, reauthField, async () => ({ reauthenticate: true }));

  action("/auth/account/sessions/end", async (page, identity) => {
    await sessions.revoke(identity, page.form.id ?? "", page.origin);
    return null;
  });

  action("/auth/account/sessions/end-all", async (page, identity) => {
    await sessions.signOutEverywhere(identity, page.origin);
    kit.pageSessions.clear(page.request, page.reply);
    return page.redirect("/auth/sign-in");
  });

  action("/auth/account/totp/enrol", async (page, identity) => {
    const currentPassword = page.form.currentPassword || null;
    const refused = await invalidInput(page, identity, EnrollTotpArgs, { currentPassword }, "currentPassword");
    if (refused) return refused;
    return accountPage(page, identity, { totp: enrolmentStep(page, await mfa.enrollTotp(identity, currentPassword, page.origin)) });
  }, (reason) => (reason === "INVALID_CREDENTIALS" || reason === "INVALID_INPUT" ? "currentPassword" : "form"));

  /**
   * A refused confirming code: the enrolment step again, its QR code and the error by the code
   * field; with no such enrolment waiting (expired, replaced), the error alone, for the whole page.
   */
  async function enrolmentAgain(page: PageRequest, identity: Identity, errors: FormErrors): Promise<AccountExtras> {
    const enrolment = await mfa.pendingEnrolment(identity, page.form.enrolment ?? "");
    if (enrolment) return { totp: enrolmentStep(page, enrolment, errors) };
    return { errors: Object.fromEntries(Object.entries(errors).map(([name, error]) => [name === "confirmCode" ? "form" : name, error])) };
  }

  action("/auth/account/totp/confirm", async (page, identity) => {
    const code = (page.form.confirmCode ?? "").trim();
    const invalid = await validateAs(MfaCodeArgs, { code });
    if (invalid.code) {
      const errors = { confirmCode: invalid.code };
      return accountPage(page, identity, { errors, status: 400, ...(await enrolmentAgain(page, identity, errors)) });
    }
    const { recoveryCodes, auth } = await mfa.confirmTotp(identity, code, page.origin);
    // The session is at aal2 now, in a new refresh family: the page keeps the new tokens.
    kit.pageSessions.keep(page.request, page.reply, auth, true);
    const raised = { ...identity, aal: "aal2" as const, user: identity.user ? { ...identity.user, mfaEnabled: true } : null };
    return accountPage(page, raised, { totp: recoveryCodesShown(page, recoveryCodes) });
  }, codeField("confirmCode"), (page, identity, errors) => (errors.confirmCode ? enrolmentAgain(page, identity, errors) : Promise.resolve({})));

  action("/auth/account/totp/recovery-codes", async (page, identity) => {
    const code = (page.form.codesCode ?? "").trim();
    const refused = await invalidInput(page, identity, MfaCodeArgs, { code }, "codesCode");
    if (refused) return refused;
    return accountPage(page, identity, { totp: recoveryCodesShown(page, await mfa.regenerateRecoveryCodes(identity, code, page.origin)) });
  }, codeField("codesCode"));

  action("/auth/account/totp/disable", async (page, identity) => {
    const code = (page.form.disableCode ?? "").trim();
    const refused = await invalidInput(page, identity, MfaCodeArgs, { code }, "disableCode");
    if (refused) return refused;
    await mfa.disableTotp(identity, code, page.origin);
    return null;
  }, codeField("disableCode"));

  if (passkeys) {
    kit.post(app, "/auth/account/passkeys/options", async (page) => {
      const identity = await signedIn(page);
      if (!("userId" in identity)) return page.reply.code(401).send({ error: { reason: "AUTHENTICATION_REQUIRED", message: "Sign in first" } });
      try {
        return page.reply.type("application/json").send(await passkeys.registrationOptions(identity));
      } catch (error) {
        const { errors, status } = formErrors(page, error);
        return page.reply.code(status).send({ error: errors.form });
      }
    });

    action("/auth/account/passkeys", async (page, identity) => {
      const name = page.form.passkeyName || null;
      const refused = await invalidInput(page, identity, RegisterPasskeyArgs, { name }, "passkey");
      if (refused) return refused;
      let response: unknown;
      try {
        response = JSON.parse(page.form.response ?? "");
      } catch {
        return accountPage(page, identity, { errors: { passkey: { message: "response must be the JSON of a PublicKeyCredential", reason: "INVALID_INPUT" } }, status: 400 });
      }
      await passkeys.register(identity, response, name, page.origin);
      return null;
    }, () => "passkey");

    action("/auth/account/passkeys/rename", async (page, identity) => {
      const input = { id: page.form.id ?? "", name: page.form.name ?? "" };
      const refused = await invalidInput(page, identity, RenamePasskeyArgs, input, "passkey");
      if (refused) return refused;
      await passkeys.rename(identity.userId, input.id, input.name);
      return null;
    }, () => "passkey");

    action("/auth/account/passkeys/remove", async (page, identity) => {
      await passkeys.remove(identity, page.form.id ?? "", page.origin);
      return null;
    }, () => "passkey");
  }
};

/**
 * The enrolment step: the QR code, the key to type, and the confirming form. The form carries a
 * digest of the key back (never the key: request bodies end up in logs), so a wrong code can redraw
 * the same QR code (Mfa.pendingEnrolment).
 */
function enrolmentStep(page: PageRequest, enrolment: TotpEnrollment, errors: FormErrors = {}): Html {
  const t = page.view.t;
  const qr = `data:image/svg+xml;base64,${Buffer.from(enrolment.qrSvg).toString("base64")}`;
  return html`<img class="qr" src="${qr}" alt="${t.t("account.totpQr")}" width="200" height="200">
<p>${t.t("account.totpScan", { secret: enrolment.secret })}</p>
<form method="post" action="/auth/account/totp/confirm" novalidate>${hiddenFields(page.view)}<input type="hidden" name="enrolment" value="${enrolmentRef(enrolment.secret)}">
${field(page.view, errors, { name: "confirmCode", label: "field.code", autocomplete: "one-time-code", inputmode: "numeric", autofocus: true })}
<button type="submit" class="primary">${t.t("account.totpConfirm")}</button></form>`;
}

/**
 * Proving it is still you (`reauthenticate`): the password, or, with TOTP on, a code instead. Shown
 * when an action that adds a credential answered REAUTHENTICATION_REQUIRED (REAUTH_MAX_AGE_SECONDS).
 */
function reauthenticationForm(page: PageRequest, errors: FormErrors, email: string, mfaOn: boolean): Html {
  const { view } = page;
  return html`<section aria-labelledby="reauth-heading" id="reauth">
<h2 id="reauth-heading">${view.t.t("reauth.title")}</h2>
<p>${view.t.t("reauth.intro")}</p>
<form method="post" action="/auth/account/reauthenticate" novalidate>${hiddenFields(view)}
<input type="text" name="username" autocomplete="username" value="${email}" hidden>
${field(view, errors, { name: "reauthPassword", label: "field.password", type: "password", autocomplete: "current-password", required: false, autofocus: true })}
${mfaOn ? field(view, errors, { name: "reauthCode", label: "field.code", autocomplete: "one-time-code", hint: "hint.reauthCode", required: false }) : ""}
<button type="submit" class="primary">${view.t.t("reauth.submit")}</button></form>
</section>`;
}

function recoveryCodesShown(page: PageRequest, codes: readonly string[]): Html {
  return html`${notice(page.view.t.t("account.recoveryCodesShown"))}<ul class="codes">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ul>
<p><a href="/auth/account">${page.view.t.t("account.title")}</a></p>`;
}

