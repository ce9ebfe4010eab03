import { randomUUID } from "node:crypto";
import type { JWK } from "jose" with { "resolution-mode": "import" };
import { jose } from "../../src/auth/federation/openid";

const { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, base64url } = jose;
import { accessTokenHash } from "@revocable-auth/verifier/internal";
import { LoginDocument } from "../../schema/generated/graphql";
import { PASSWORD, register, send, uniqueEmail } from "./client";

/** A client's DPoP key pair, made with jose as a Node client would make it. */
export interface DpopKey {
  readonly privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  readonly publicJwk: JWK;
  /** RFC 7638 thumbprint: the `cnf.jkt` of the tokens bound to it. */
  readonly jkt: string;
  readonly alg: "ES256" | "RS256" | "EdDSA";
}

export async function dpopKey(alg: DpopKey["alg"] = "ES256"): Promise<DpopKey> {
  // Extractable, so a test can put the private key where a public one belongs (a proof must refuse it).
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, "sha256"), alg };
}

export interface ProofClaims {
  readonly htu: string;
  readonly htm?: string;
  /** The access token the proof is used with: its `ath`. */
  readonly accessToken?: string;
  /** Epoch seconds; now by default. */
  readonly iat?: number;
  readonly jti?: string;
  /** Replaces the header's jwk (a private key, say). */
  readonly jwk?: JWK;
  readonly typ?: string;
  /** The server's nonce (DPOP_NONCE=on), from a DPoP-Nonce header. */
  readonly nonce?: string;
}

/** A DPoP proof (RFC 9449 §4.2) for one request, signed with jose. */
export function proof(key: DpopKey, claims: ProofClaims): Promise<string> {
  return new SignJWT({
    htm: claims.htm ?? "POST",
    htu: claims.htu,
    jti: claims.jti ?? randomUUID(),
    iat: claims.iat ?? Math.floor(Date.now() / 1000),
    ...(claims.accessToken === undefined ? {} : { ath: accessTokenHash(claims.accessToken) }),
    ...(claims.nonce === undefined ? {} : { nonce: claims.nonce }),
  })
    .setProtectedHeader({ alg: key.alg, typ: claims.typ ?? "dpop+jwt", jwk: claims.jwk ?? key.publicJwk })
    .sign(key.privateKey);
}

/** A proof with a header jose would never sign (alg none), or signed with a shared secret: both must be refused. */
export async function unsignedProof(htu: string): Promise<string> {
  const part = (value: object) => base64url.encode(JSON.stringify(value));
  const key = await dpopKey();
  return `${part({ alg: "none", typ: "dpop+jwt", jwk: key.publicJwk })}.${part({ htm: "POST", htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) })}.`;
}

export function hmacProof(htu: string): Promise<string> {
  const secret = new TextEncoder().encode("a shared secret proves nothing about a client's key");
  return new SignJWT({ htm: "POST", htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ alg: "HS256", typ: "dpop+jwt", jwk: { kty: "oct", k: base64url.encode(secret) } as JWK })
    .sign(secret);
}

/** The headers of a request with a DPoP-bound token. */
export const dpopHeaders = (accessToken: string, proofValue: string) => ({ authorization: `DPoP ${accessToken}`, dpop: proofValue });

/** Registers a user, then signs in with a DPoP proof from `key`: the tokens are bound to it. */
export async function boundSignIn(url: string, key: DpopKey) {
  const email = uniqueEmail("dpop");
  await register(url, { email });
  const result = await send(url, LoginDocument, { input: { email, password: PASSWORD } }, { headers: { dpop: await proof(key, { htu: url }) } });
  if (!result.data?.login) throw new Error(`login failed: ${JSON.stringify(result.errors)}`);
  return result.data.login;
}
