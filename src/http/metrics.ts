import type { FastifyPluginCallback } from "fastify";
import type { MetricsExposition } from "../metrics";

export interface MetricsRouteOptions {
  readonly exposition: MetricsExposition;
}

/** Prometheus metrics at /metrics: this process's, or with WORKERS > 1 every worker's together. */
export const metricsRoute: FastifyPluginCallback<MetricsRouteOptions> = (app, { exposition }, done) => {
  app.get("/metrics", async (_request, reply) => {
    const { contentType, body } = await exposition();
    return reply.type(contentType).send(body);
  });
  done();
};
