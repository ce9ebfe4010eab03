/**
 * The interaction pages, server-rendered and self-contained: no script, no style sheet, no external
 * resource, so the CSP can forbid everything but posting the form. Small on purpose, so the hosted
 * pages (src/pages/) can replace them: they take plain values and return HTML.
 */

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer"><title>${escape(title)}</title></head>
<body><main>
<h1>${escape(title)}</h1>
${body}
</main></body>
</html>`;
}

const notice = (message: string | null) => (message === null ? "" : `<p role="alert">${escape(message)}</p>`);

export interface LoginPage {
  readonly action: string;
  readonly csrf: string;
  readonly clientName: string;
  readonly email?: string;
  readonly error: string | null;
}

export function loginPage({ action, csrf, clientName, email = "", error }: LoginPage): string {
  return layout(
    "Sign in",
    `<p>to continue to ${escape(clientName)}</p>
${notice(error)}
<form method="post" action="${escape(action)}">
<input type="hidden" name="csrf" value="${escape(csrf)}">
<p><label for="email">Email</label><br><input id="email" name="email" type="email" autocomplete="username" required value="${escape(email)}"></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}

export interface MfaPage {
  readonly action: string;
  readonly csrf: string;
  readonly clientName: string;
  readonly error: string | null;
}

export function mfaPage({ action, csrf, clientName, error }: MfaPage): string {
  return layout(
    "Second factor",
    `<p>${escape(clientName)} asks for a second factor.</p>
${notice(error)}
<form method="post" action="${escape(action)}">
<input type="hidden" name="csrf" value="${escape(csrf)}">
<p><label for="code">Code</label><br><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required></p>
<p><button type="submit">Verify</button></p>
</form>`,
  );
}

export interface ConsentPage {
  readonly action: string;
  readonly abortAction: string;
  readonly csrf: string;
  readonly clientName: string;
  readonly scopes: readonly string[];
}

export function consentPage({ action, abortAction, csrf, clientName, scopes }: ConsentPage): string {
  return layout(
    "Allow access",
    `<p>${escape(clientName)} asks for:</p>
<ul>${scopes.map((scope) => `<li>${escape(scope)}</li>`).join("")}</ul>
<form method="post" action="${escape(action)}">
<input type="hidden" name="csrf" value="${escape(csrf)}">
<p><button type="submit">Allow</button></p>
</form>
<form method="post" action="${escape(abortAction)}">
<input type="hidden" name="csrf" value="${escape(csrf)}">
<p><button type="submit">Deny</button></p>
</form>`,
  );
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<p>${escape(message)}</p>`);
}
