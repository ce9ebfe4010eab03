/**
 * panva's oidc-provider 9 (OpenID Certified), ESM-only, loaded with Node's require(esm) like
 * openid-client in ../federation/openid.ts: it has no top-level await, so a synchronous `require`
 * returns its namespace, and Jest loads it through the same esbuild transform. The package ships no
 * types; the few shapes this API touches are declared here, in the library's own vocabulary.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** What oidc-provider hands an adapter and reads back: its model's fields, as it wrote them. */
export type AdapterPayload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: number };

export interface Adapter {
  upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/** The koa context oidc-provider passes to its helpers; only what this API reads. */
export interface OidcContext {
  readonly req: IncomingMessage;
  readonly oidc: {
    readonly client?: { readonly clientId: string };
    readonly session?: { readonly uid: string; readonly accountId?: string };
    readonly params?: Record<string, unknown>;
    readonly [key: string]: unknown;
  };
}

/** oidc-provider's token as extraTokenClaims sees it. */
export interface OidcToken {
  readonly kind: string;
  readonly accountId?: string;
  readonly clientId?: string;
  readonly sessionUid?: string;
  readonly grantId?: string;
  readonly scope?: string;
  readonly gty?: string;
  readonly amr?: string[];
  readonly acr?: string;
}

export interface InteractionDetails {
  readonly uid: string;
  readonly prompt: { readonly name: "login" | "consent" | string; readonly details: Record<string, unknown>; readonly reasons: string[] };
  readonly params: Record<string, unknown> & { client_id: string; scope?: string; redirect_uri?: string };
  readonly session?: { readonly uid: string; readonly accountId?: string };
  readonly grantId?: string;
  readonly lastSubmission?: Record<string, unknown>;
}

export interface GrantInstance {
  readonly jti: string;
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

export interface Provider {
  readonly issuer: string;
  proxy: boolean;
  callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
  on(event: string, listener: (...args: any[]) => void): void;
  readonly Grant: (new (fields: { accountId: string; clientId: string }) => GrantInstance) & { find(id: string): Promise<GrantInstance & { accountId: string; clientId: string } | undefined> };
  readonly Session: { findByUid(uid: string): Promise<{ uid: string; accountId?: string; destroy(): Promise<void> } | undefined> };
  readonly Client: { prototype: { compareClientSecret(this: { clientSecret?: string }, actual: string): boolean | Promise<boolean> } };
  readonly AccessToken: { find(value: string): Promise<unknown> };
}

export interface OidcProviderModule {
  readonly default: new (issuer: string, configuration: Record<string, unknown>) => Provider;
  readonly errors: Record<string, new (description?: string) => Error>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const oidc = require("oidc-provider") as OidcProviderModule;
