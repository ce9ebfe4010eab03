import { BEARER_HEADER, JWT_SHAPE } from "@revocable-auth/verifier";
import { invalidToken } from "../errors";

/** The token of an `Authorization: Bearer <jwt>` header; anything else is INVALID_TOKEN. */
export function bearerToken(header: string): string {
  const match = BEARER_HEADER.exec(header);
  if (!match) throw invalidToken('The Authorization header must be "Bearer <access token>"');
  const token = match[1]!;
  if (!JWT_SHAPE.test(token)) throw invalidToken("The bearer token is not a JWT");
  return token;
}
