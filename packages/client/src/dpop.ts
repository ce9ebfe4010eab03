import { generateKeyPair, generateProof, type KeyPair } from "dpop";

/**
 * DPoP (RFC 9449): the key this client's tokens are bound to, and a fresh proof for each request.
 * The proofs are panva's `dpop` package (WebCrypto underneath); this module only decides where the
 * key lives and remembers the server's nonce.
 */
export interface Dpop {
  /** `dpop: "required"`: a sign-in without the key fails (DPOP_KEY_UNAVAILABLE) instead of going bearer. */
  readonly required: boolean;
  /**
   * A proof for one request: `htu` the URL without query and fragment, `accessToken` for its `ath`;
   * `keyPair` instead of the current one (the key a sign-out retired still signs that logout).
   */
  proof(url: string, method: string, accessToken?: string, keyPair?: KeyPair): Promise<string>;
  /** Remembers a `DPoP-Nonce` the server at `url` sent (RFC 9449 §8), for its later proofs. */
  nonce(url: string, value: string | null): void;
  /** Whether the key pair loads now (a refresh refused for want of a proof is then not the session's end). */
  usable(): Promise<boolean>;
}

/** Where the key pair comes from: `createAuthClient`'s `dpop` option, when it is a function. */
export type DpopKeys = () => Promise<KeyPair>;

/** The default key's store: the key, a new one in its place, and forgetting the one loaded. */
export interface KeyStore {
  readonly load: DpopKeys;
  /** Replaces the key (an explicit sign-out): the next account in this browser is not linked to the last one. */
  rotate(): Promise<void>;
  /** Another tab may have replaced the key: load it again when next needed. */
  forget(): void;
}

/** The part of IndexedDB the key needs, as narrow structural types (no DOM type library needed). */
interface IdbRequestLike<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbDatabaseLike {
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: "readwrite"): { objectStore(name: string): IdbStoreLike };
  close(): void;
}
interface IdbStoreLike {
  get(key: string): IdbRequestLike<unknown>;
  put(value: unknown, key: string): IdbRequestLike<unknown>;
}
export interface IdbFactoryLike {
  open(name: string, version?: number): IdbRequestLike<IdbDatabaseLike> & { onupgradeneeded: (() => void) | null };
}

/**
 * The key pair of every client named `name` in this process. Node has no IndexedDB; two clients of
 * one name must still sign with one key, since they hand each other the session bound to it.
 */
const processKeys = new Map<string, Promise<KeyPair>>();

/** A non-extractable ECDSA P-256 key pair: the private key can sign, and never leave WebCrypto. */
const newKeyPair = (): Promise<KeyPair> => generateKeyPair("ES256", { extractable: false });

/** The key pair: in IndexedDB where there is one (so every tab of the origin shares it), else in memory. */
export function defaultKeys(name: string, indexedDB: IdbFactoryLike | null): KeyStore | Pick<KeyStore, "load"> {
  // Not rotated: it ends with the process (or page), and clients of one name without a channel
  // between them would lose the key their sessions are bound to.
  if (!indexedDB) return { load: () => processKeys.get(name) ?? remember(processKeys, name, newKeyPair()) };
  let loaded: Promise<KeyPair> | null = null;
  const stored = (replace: boolean) => storedKeyPair(indexedDB, `${name}:dpop`, replace).catch((error) => ((loaded = null), Promise.reject(error)));
  return {
    load: () => (loaded ??= stored(false)),
    rotate: async () => void (await (loaded = stored(true))),
    forget: () => void (loaded = null),
  };
}

function remember<T>(map: Map<string, Promise<T>>, key: string, value: Promise<T>): Promise<T> {
  map.set(key, value);
  return value;
}

/**
 * The origin's key pair from IndexedDB, made on first use. The candidate is made before the
 * transaction (IndexedDB commits a transaction that waits on anything else), and a readwrite
 * transaction keeps the one found if another tab stored one first: transactions on one store run
 * one at a time, so every tab ends up with the same key. `replace` stores the candidate whatever is there.
 */
async function storedKeyPair(indexedDB: IdbFactoryLike, database: string, replace: boolean): Promise<KeyPair> {
  const candidate = await newKeyPair();
  const db = await new Promise<IdbDatabaseLike>((resolve, reject) => {
    const request = indexedDB.open(database, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("keys");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    return await new Promise<KeyPair>((resolve, reject) => {
      const store = db.transaction("keys", "readwrite").objectStore("keys");
      const found = store.get("ES256");
      found.onsuccess = () => {
        const stored = found.result as KeyPair | undefined;
        if (stored && !replace) return resolve(stored);
        const put = store.put(candidate, "ES256");
        put.onsuccess = () => resolve(candidate);
        put.onerror = () => reject(put.error);
      };
      found.onerror = () => reject(found.error);
    });
  } finally {
    db.close();
  }
}

export function createDpop(keys: DpopKeys, required = false): Dpop {
  /**
   * The last nonce of each server, by origin: a nonce is one server's (RFC 9449 §8), and one that a
   * third-party API sent through `dpopFetch` must never be what this client's API is sent.
   */
  const serverNonces = new Map<string, string>();
  return {
    required,
    async proof(url, method, accessToken, keyPair) {
      const target = new URL(url);
      target.search = "";
      target.hash = "";
      return generateProof(keyPair ?? (await keys()), target.href, method, serverNonces.get(nonceOrigin(target)), accessToken);
    },
    nonce(url, value) {
      if (value) serverNonces.set(nonceOrigin(new URL(url)), value);
    },
    usable: () => keys().then(() => true, () => false),
  };
}

/** The origin a nonce belongs to; a socket (ws:, wss:) is the server of its http:, https: origin. */
function nonceOrigin(url: URL): string {
  return `${url.protocol.replace(/^ws/, "http")}//${url.host}`;
}

/** Whether a 401 asks to sign again with the server's nonce: `WWW-Authenticate: DPoP error="use_dpop_nonce"`. */
export function wantsNonce(status: number, challenge: string | null): boolean {
  return status === 401 && challenge !== null && /\berror="use_dpop_nonce"/.test(challenge);
}
