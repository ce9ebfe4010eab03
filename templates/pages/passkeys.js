"use strict";
// The hosted pages' (and the OAuth interaction's) only script: WebAuthn, which no HTML form can do. Served as a file, so the pages'
// policy allows scripts from this origin only, never inline. Without it the password form still works.
(() => {
  const supported = typeof PublicKeyCredential === "function" && typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
  if (!supported) return;

  /** The ceremony's options from the page's own endpoint, with the form's CSRF token. */
  async function optionsFor(url, form) {
    const answer = await fetch(url, { method: "POST", credentials: "same-origin", body: new URLSearchParams({ csrf: form.elements.csrf.value }) });
    const body = await answer.json();
    if (!answer.ok) throw Object.assign(new Error(body.error ? `${body.error.message} (${body.error.reason})` : `HTTP ${answer.status}`), { reason: body.error?.reason });
    return body;
  }

  function showError(form, message) {
    let line = form.querySelector(".script-error");
    if (!line) {
      line = document.createElement("p");
      line.className = "error script-error";
      line.setAttribute("role", "alert");
      form.append(line);
    }
    line.textContent = message;
  }

  function submitWith(form, credential) {
    form.elements.response.value = JSON.stringify(credential.toJSON());
    form.submit();
  }

  const signIn = document.getElementById("passkey-form");
  if (signIn) {
    signIn.hidden = false;
    let inFlight = null;
    const run = async (conditional) => {
      // One request at a time: the button's replaces the autofill one.
      if (inFlight) inFlight.abort();
      const controller = new AbortController();
      inFlight = controller;
      try {
        // The form names its options endpoint: /auth/sign-in's, or an OAuth interaction's own.
        const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(await optionsFor(signIn.dataset.options, signIn));
        const credential = await navigator.credentials.get({ publicKey, signal: controller.signal, ...(conditional ? { mediation: "conditional" } : {}) });
        if (credential) submitWith(signIn, credential);
      } catch (error) {
        if (error.name !== "AbortError" && !conditional) showError(signIn, error.message);
      }
    };
    document.getElementById("passkey-button").addEventListener("click", () => run(false));
    // Conditional UI: the browser offers passkeys in the email field's autofill (autocomplete="username webauthn").
    if (typeof PublicKeyCredential.isConditionalMediationAvailable === "function") {
      PublicKeyCredential.isConditionalMediationAvailable().then((available) => available && run(true), () => undefined);
    }
  }

  const add = document.getElementById("passkey-add-form");
  if (add) {
    add.hidden = false;
    document.getElementById("passkey-add-button").addEventListener("click", async () => {
      try {
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(await optionsFor("/auth/account/passkeys/options", add));
        const credential = await navigator.credentials.create({ publicKey });
        if (credential) submitWith(add, credential);
      } catch (error) {
        // The session's sign-in is too old to add a credential: the account page's re-authentication form, then try again.
        if (error.reason === "REAUTHENTICATION_REQUIRED") location.assign("/auth/account?reauthenticate=1#reauth");
        else showError(add, error.message);
      }
    });
  }
})();
