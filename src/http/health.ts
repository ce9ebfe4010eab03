import type { FastifyPluginCallback } from "fastify";
import type { Store } from "../store/store";

/** A directory kept apart from the store (Postgres, DATABASE_URL): answers when it can serve. */
export interface DirectoryProbe {
  ping(): Promise<void>;
}

export interface HealthOptions {
  readonly store: Pick<Store, "ping">;
  readonly directory: DirectoryProbe | null;
}

/**
 * Liveness at /healthz (the process answers) and readiness at /readyz (and so does the store). The
 * directory's state is reported beside it, without deciding readiness: with Postgres down, requests
 * with a valid token go on (Redis only); sign-in, registration and admin changes answer 503
 * DIRECTORY_UNAVAILABLE until it is back.
 */
export const health: FastifyPluginCallback<HealthOptions> = (app, { store, directory }, done) => {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const [storeUp, directoryUp] = await Promise.all([answers(store), directory ? answers(directory) : Promise.resolve(null)]);
    const report = directoryUp === null ? {} : { directory: directoryUp ? "ready" : "unavailable" };
    if (storeUp) return { status: "ready", ...report };
    return reply.code(503).send({ status: "unavailable", reason: "STORE_UNAVAILABLE", ...report });
  });
  done();
};

const answers = (probe: { ping(): Promise<void> }): Promise<boolean> => probe.ping().then(() => true, () => false);
