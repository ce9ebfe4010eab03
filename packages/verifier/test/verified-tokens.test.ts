import { createSecretKey, randomBytes } from "node:crypto";
import jwt from "jsonwebtoken";
import { TokenChecks, VERIFIED_TOKENS_KEPT, type TokenKey } from "../src/internal";

// TokenChecks remembers the tokens it passed, by their bytes' SHA-256 and the key object that
// verified them, so a relying party presenting the same token on every request pays for the
// signature once. What must not change: expiry, a changed key, the type asked for, tampering.
const ISSUER = "https://auth.test";
const AUDIENCE = "api.test";
const key = (): TokenKey => ({ algorithm: "HS256", key: createSecretKey(randomBytes(32)) });

let nowMs = Date.UTC(2026, 11, 7, 12, 0, 0);
const checks = () => new TokenChecks({ issuer: ISSUER, audience: AUDIENCE, now: () => nowMs });
const nowSeconds = () => Math.floor(nowMs / 1000);

function sign(with_: TokenKey, claims: Record<string, unknown> = {}, typ = "at+jwt"): string {
  const iat = nowSeconds();
  return jwt.sign({ sub: "user-1", sid: "session-1", jti: randomBytes(8).toString("hex"), iat, exp: iat + 60, iss: ISSUER, aud: AUDIENCE, ...claims }, with_.key, {
    algorithm: with_.algorithm,
    header: { alg: with_.algorithm, typ, kid: "k1" },
  });
}

/** A fresh TokenChecks that has passed one token once, so the next check of it is from memory. */
function remembered(): { tokens: TokenChecks; signer: TokenKey; token: string } {
  const tokens = checks();
  const signer = key();
  const token = sign(signer);
  expect(typeof tokens.verify(token, "k1", signer, "at+jwt")).toBe("object");
  return { tokens, signer, token };
}

describe("TokenChecks' memory of verified tokens", () => {
  it("answers a token it passed before from memory: the same payload, not checked again", () => {
    const tokens = checks();
    const signer = key();
    const token = sign(signer);
    const first = tokens.verify(token, "k1", signer, "at+jwt");
    expect(first).toEqual(expect.objectContaining({ sub: "user-1" }));
    expect(tokens.verify(token, "k1", signer, "at+jwt")).toBe(first);
  });

  it("still refuses a remembered token as expired from its exp on", () => {
    const { tokens, signer, token } = remembered();
    nowMs += 59_000;
    expect(typeof tokens.verify(token, "k1", signer, "at+jwt")).toBe("object");
    nowMs += 1_000;
    expect(tokens.verify(token, "k1", signer, "at+jwt")).toBe("expired");
    expect(tokens.verify(token, "k1", signer, "at+jwt")).toBe("expired");
  });

  it("checks again when the kid names another key now (a rotation, a JWKS refresh): a token of the old key is refused", () => {
    const { tokens, token } = remembered();
    expect(tokens.verify(token, "k1", key(), "at+jwt")).toBe("malformed");
  });

  it("does not pass a remembered token as another type", () => {
    const { tokens, signer, token } = remembered();
    expect(tokens.verify(token, "k1", signer, "refresh+jwt")).toBe("wrongType");
  });

  it("refuses a token that reuses a remembered one's signature over other claims", () => {
    const { tokens, signer, token } = remembered();
    const [header, payload, signature] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
    const forged = [header, Buffer.from(JSON.stringify({ ...claims, sub: "admin" })).toString("base64url"), signature].join(".");
    expect(tokens.verify(forged, "k1", signer, "at+jwt")).toBe("malformed");
  });

  it("remembers nothing it refused", () => {
    const tokens = checks();
    const signer = key();
    const wrongAudience = sign(signer, { aud: "another-api" });
    expect(tokens.verify(wrongAudience, "k1", signer, "at+jwt")).toBe("malformed");
    expect(tokens.verify(wrongAudience, "k1", signer, "at+jwt")).toBe("malformed");
    const notYet = sign(signer, { nbf: nowSeconds() + 30 });
    expect(tokens.verify(notYet, "k1", signer, "at+jwt")).toBe("malformed");
    nowMs += 30_000;
    expect(typeof tokens.verify(notYet, "k1", signer, "at+jwt")).toBe("object");
  });

  it(`keeps at most ${VERIFIED_TOKENS_KEPT} tokens, forgetting the oldest first`, () => {
    const tokens = checks();
    const signer = key();
    const issued = Array.from({ length: VERIFIED_TOKENS_KEPT + 1 }, () => sign(signer));
    const payloads = issued.map((token) => tokens.verify(token, "k1", signer, "at+jwt"));
    // The first was forgotten to make room for the last: checked again, it is a new payload.
    expect(tokens.verify(issued[0]!, "k1", signer, "at+jwt")).not.toBe(payloads[0]);
    expect(tokens.verify(issued[0]!, "k1", signer, "at+jwt")).toEqual(payloads[0]);
    expect(tokens.verify(issued.at(-1)!, "k1", signer, "at+jwt")).toBe(payloads.at(-1));
  });
});
