/** Reads already made for a request, by what they read. Keyed by the request's context object. */
const reads = new WeakMap<object, Map<string, Promise<unknown>>>();

/**
 * Runs `read` at most once per request for `key`; later calls share its result. Validation already
 * allows each store list once per operation; this holds even if a rule is ever loosened.
 */
export function oncePerRequest<T>(context: object, key: string, read: () => Promise<T>): Promise<T> {
  let made = reads.get(context);
  if (!made) {
    made = new Map();
    reads.set(context, made);
  }
  let result = made.get(key) as Promise<T> | undefined;
  if (!result) {
    result = read();
    made.set(key, result);
  }
  return result;
}
