import { createHmac } from "node:crypto";
import { checkDpopProof, ProofKeys, replayWindowSeconds, type CheckedProof, type DpopTarget } from "@revocable-auth/verifier/internal";
import type { Clock } from "../../clock";
import { dpopProofRequired, invalidDpopProof, useDpopNonce } from "../../errors";
import type { Role } from "../../store/store";

/** DPOP, DPOP_REQUIRED_FOR_ROLES and DPOP_MAX_SKEW_SECONDS, as config.ts read them. */
export interface DpopPolicy {
  readonly mode: "off" | "optional" | "required";
  readonly requiredForRoles: readonly Role[];
  readonly maxSkewSeconds: number;
  /** DPOP_NONCE=on: the key server nonces are made with, the same on every instance; null: off. */
  readonly nonceKey: Buffer | null;
}

/** A server nonce is good for the window it was made in and the next one: 5 to 10 minutes. */
const NONCE_WINDOW_MS = 300_000;

/**
 * DPoP (RFC 9449, docs/security.md#dpop): checks a proof with the verifier package's rules (one
 * implementation, jose underneath) and decides which sign-ins must bring one. The replay check of
 * a proof that uses a bound token is the store's, in the revocation read (Authenticator).
 */
export class DpopProofs {
  private readonly keys = new ProofKeys();

  constructor(
    private readonly policy: DpopPolicy,
    private readonly clock: Clock,
  ) {}

  /** Off: proofs are ignored, and no token is bound. */
  get enabled(): boolean {
    return this.policy.mode !== "off";
  }

  /** How long the store remembers a proof's jti, in seconds. */
  get replayWindowSeconds(): number {
    return replayWindowSeconds(this.policy.maxSkewSeconds);
  }

  /** Every check of the proof but the replay check; `accessToken`: the token it must carry the hash of. INVALID_DPOP_PROOF otherwise. */
  async check(proof: string, target: DpopTarget, accessToken?: string): Promise<CheckedProof> {
    const checked = await checkDpopProof(proof, target, accessToken, {
      maxSkewSeconds: this.policy.maxSkewSeconds,
      now: () => this.clock.now(),
      keys: this.keys,
      ...(this.policy.nonceKey === null ? {} : { acceptsNonce: (nonce: unknown) => this.acceptsNonce(nonce) }),
    });
    if ("fault" in checked) throw checked.fault === "nonce" ? useDpopNonce(this.nonceAt(this.clock.now())) : invalidDpopProof(checked.fault);
    return checked;
  }

  /**
   * Stateless server nonces (RFC 9449 §8): an HMAC of the current 5-minute window, so every
   * instance makes and accepts the same ones without sharing state; the previous window's still counts.
   */
  private acceptsNonce(nonce: unknown): boolean {
    const now = this.clock.now();
    return typeof nonce === "string" && (nonce === this.nonceAt(now) || nonce === this.nonceAt(now - NONCE_WINDOW_MS));
  }

  private nonceAt(at: number): string {
    return createHmac("sha256", this.policy.nonceKey!).update(`dpop-nonce ${Math.floor(at / NONCE_WINDOW_MS)}`).digest("base64url");
  }

  /** DPOP_REQUIRED_FOR_ROLES: whether a user with these roles may hold only bound sessions, whatever they began as. */
  requiresBinding(roles: readonly Role[]): boolean {
    return this.policy.mode !== "off" && roles.some((held) => this.policy.requiredForRoles.includes(held));
  }

  /** A sign-in of a user with these roles, without a proof: refused under DPOP=required, and for DPOP_REQUIRED_FOR_ROLES. */
  requireForSignIn(roles: readonly Role[], jkt: string | undefined): void {
    if (jkt !== undefined || this.policy.mode === "off") return;
    if (this.policy.mode === "required") throw dpopProofRequired("This server requires DPoP (DPOP=required): sign in with a DPoP proof header");
    const role = roles.find((held) => this.policy.requiredForRoles.includes(held));
    if (role !== undefined) throw dpopProofRequired(`The ${role} role needs DPoP-bound tokens (DPOP_REQUIRED_FOR_ROLES): sign in with a DPoP proof header`);
  }
}
