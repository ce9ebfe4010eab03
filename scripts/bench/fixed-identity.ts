/** What the bench's reference servers (rows a, n, m) put in their context instead of checking anything. */
import type { Identity } from "../../src/auth/tokens/authenticator";

export const FIXED_IDENTITY: Identity = {
  userId: "bench-user",
  sessionId: "bench-session",
  jti: "bench-jti",
  roles: ["USER"],
  emailVerified: false,
  expiresAt: Date.now() + 3600_000,
  user: { id: "bench-user", email: "bench@example.com", roles: ["USER"], createdAt: Date.now(), disabled: false },
  aal: "aal1",
  amr: ["pwd"],
};

/** The reference servers set no cookies. */
export const unusedCookie = { read: () => undefined, set: () => undefined, clear: () => undefined };
