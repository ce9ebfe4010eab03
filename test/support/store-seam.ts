import type { Tracing } from "../../src/tracing/port";

/**
 * A way to act at an exact moment inside the server: the tracing port wraps the store (when tracing
 * is on), so a test's Tracing can run a hook around one store method. Armed, the hook runs once, on
 * the next call whose arguments `matches` accepts: `before` the real call, or `after` it (the
 * server then goes on with what the real call returned). Other methods and wrapped objects pass.
 */
export function storeSeam(method: string, when: "before" | "after", matches: (args: unknown[]) => boolean = () => true) {
  let armed: (() => Promise<void>) | null = null;
  const fire = async (args: unknown[]) => {
    const hook = armed;
    if (!hook || !matches(args)) return;
    armed = null;
    await hook();
  };
  const tracing: Tracing = {
    traced: (target) =>
      new Proxy(target, {
        get(object, property, receiver) {
          const value = Reflect.get(object, property, receiver) as unknown;
          if (property !== method || typeof value !== "function") return value;
          return async (...args: unknown[]) => {
            if (when === "before") await fire(args);
            const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(object, args);
            if (when === "after") await fire(args);
            return result;
          };
        },
      }),
    shutdown: async () => undefined,
  };
  return {
    tracing,
    arm(hook: () => Promise<void>) {
      armed = hook;
    },
    disarm() {
      armed = null;
    },
  };
}
