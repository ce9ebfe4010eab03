import type { Metrics } from "../metrics";
import type { Store } from "./store";

/** Wraps a store so every call is timed and every failure counted, without touching either store. */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || property === "close") return value;
      if (property === "limiter") return value.bind(target);
      const operation = String(property);
      return async (...args: unknown[]) => {
        const stop = metrics.storeLatency.startTimer({ operation });
        try {
          return await value.apply(target, args);
        } catch (error) {
          metrics.storeErrors.inc({ operation });
          throw error;
        } finally {
          stop();
        }
      };
    },
  });
}
