import type { FastifyPluginCallback } from "fastify";
import type { Store } from "../store/store";

export interface HealthOptions {
  readonly store: Pick<Store, "ping">;
}

/** Liveness at /healthz (the process answers) and readiness at /readyz (and so does the store). */
export const health: FastifyPluginCallback<HealthOptions> = (app, { store }, done) => {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    try {
      await store.ping();
      return { status: "ready" };
    } catch {
      return reply.code(503).send({ status: "unavailable", reason: "STORE_UNAVAILABLE" });
    }
  });
  done();
};
