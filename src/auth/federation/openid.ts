/**
 * panva's openid-client 6 (certified relying party) and jose, both ESM-only, loaded from this
 * CommonJS project with Node's require(esm) (unflagged since Node 22.12; this project runs on 24):
 * neither module has top-level await, so a plain synchronous `require` returns their namespaces.
 * That keeps provider set-up synchronous at the composition root, with no await threaded through
 * module loading, and lets Jest (CommonJS) load the same code through its esbuild transform.
 * The types come from their ESM entries.
 *
 * Each is loaded on its first use: an instance with no sign-in provider never needs them, and
 * together they are a tenth of what the server would load at start.
 */
export type OpenIdClient = typeof import("openid-client", { with: { "resolution-mode": "import" } });
export type Jose = typeof import("jose", { with: { "resolution-mode": "import" } });

/** The module's namespace, required on the first property read: `openid.discovery(…)` reads as before. */
function onFirstUse<Module extends object>(load: () => Module): Module {
  let module: Module | undefined;
  return new Proxy({} as Module, { get: (_, key) => Reflect.get((module ??= load()), key) });
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const openid = onFirstUse(() => require("openid-client") as OpenIdClient);
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const jose = onFirstUse(() => require("jose") as Jose);
