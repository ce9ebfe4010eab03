import { BEARER_HEADER, JWT_SHAPE, MESSAGES } from "@revocable-auth/verifier/internal";
import { invalidToken } from "../errors";

/** The token of an `Authorization: Bearer <jwt>` header; anything else is INVALID_TOKEN. */
export function bearerToken(header: string): string {
  const match = BEARER_HEADER.exec(header);
  if (!match) throw invalidToken(MESSAGES.badHeader);
  const token = match[1]!;
  if (!JWT_SHAPE.test(token)) throw invalidToken(MESSAGES.notJwt);
  return token;
}
