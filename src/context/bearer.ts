import { BEARER_HEADER, DPOP_AUTHORIZATION, JWT_SHAPE, MESSAGES, type DpopTarget } from "@revocable-auth/verifier/internal";
import type { PresentedToken } from "../auth/tokens/authenticator";
import { invalidToken } from "../errors";

/**
 * The token of an `Authorization: Bearer <jwt>` or `Authorization: DPoP <jwt>` header, with the
 * request's DPoP proof (docs/security.md#dpop); anything else is INVALID_TOKEN.
 */
export function presentedToken(header: string, proof: string | undefined, target: () => DpopTarget): PresentedToken {
  const bearer = BEARER_HEADER.exec(header);
  const match = bearer ?? DPOP_AUTHORIZATION.exec(header);
  if (!match) throw invalidToken(MESSAGES.badHeader);
  const token = match[1]!;
  if (!JWT_SHAPE.test(token)) throw invalidToken(MESSAGES.notJwt);
  return { token, scheme: bearer ? "Bearer" : "DPoP", proof, target };
}
