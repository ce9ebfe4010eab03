import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print, type GraphQLFormattedError } from "graphql";
import { LoginDocument, RegisterDocument, type AuthPayloadFieldsFragment } from "../../schema/generated/graphql";

export interface GraphQLResponse<TData> {
  readonly status: number;
  readonly headers: Headers;
  readonly data: TData | null | undefined;
  readonly errors: readonly GraphQLFormattedError[] | undefined;
  /** The first error's extensions, the usual thing to assert on. */
  readonly error: { code?: unknown; reason?: unknown; message: string } | undefined;
}

export interface RequestOptions {
  readonly token?: string;
  readonly headers?: Record<string, string>;
}

/** Sends one of the generated typed documents, as a client built with codegen would. */
export async function send<TData, TVars>(
  url: string,
  document: TypedDocumentNode<TData, TVars>,
  variables?: TVars,
  options: RequestOptions = {},
): Promise<GraphQLResponse<TData>> {
  return post<TData>(url, { query: print(document), variables }, options);
}

/** Posts any body; for requests no generated client would make. */
export async function post<TData = unknown>(url: string, body: unknown, options: RequestOptions = {}): Promise<GraphQLResponse<TData>> {
  const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(url, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await response.text();
  let json: { data?: TData | null; errors?: GraphQLFormattedError[] } = {};
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`Expected JSON, got ${response.status}: ${text.slice(0, 200)}`);
  }
  const first = json.errors?.[0];
  return {
    status: response.status,
    headers: response.headers,
    data: json.data,
    errors: json.errors,
    error: first ? { message: first.message, code: first.extensions?.code, reason: first.extensions?.reason } : undefined,
  };
}

let counter = 0;
export const uniqueEmail = (label = "user") => `${label}-${process.pid}-${++counter}-${Date.now()}@example.com`;
export const PASSWORD = "correct horse battery staple";

/** Registers a fresh user and returns the payload; fails the test if registration fails. */
export async function register(url: string, input: { email?: string; password?: string; device?: string } = {}): Promise<AuthPayloadFieldsFragment> {
  const result = await send(url, RegisterDocument, {
    input: { email: input.email ?? uniqueEmail(), password: input.password ?? PASSWORD, device: input.device },
  });
  if (!result.data?.register) throw new Error(`register failed: ${JSON.stringify(result.errors)}`);
  return result.data.register;
}

export async function login(url: string, email: string, password = PASSWORD, device?: string): Promise<AuthPayloadFieldsFragment> {
  const result = await send(url, LoginDocument, { input: { email, password, device } });
  if (!result.data?.login) throw new Error(`login failed: ${JSON.stringify(result.errors)}`);
  return result.data.login;
}
