/** The signing key set's version, read by every verifier. Hot state, in Redis whatever holds the directory (README.md). */
export interface KeySetStore {
  /**
   * Announces the API's key set (keySetVersion of its kids) to verifiers, which read it at most
   * once a second and refetch the JWKS when theirs differs. Written at every start.
   */
  publishKeySetVersion(version: string): Promise<void>;
  /** The last version published; null before any. */
  keySetVersion(): Promise<string | null>;
}
