import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Prometheus metrics, served at GET /metrics. One registry per server, so tests can run several. */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: "auth_requests_total",
    help: "GraphQL requests by the outcome of their bearer token: anonymous, ok, or the refusal reason.",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  readonly revocations = new Counter({
    name: "auth_revocations_total",
    help: "Revocations by kind: logout, session, all_sessions, refresh_reuse, user_disabled.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  readonly refreshGraceHits = new Counter({
    name: "auth_refresh_grace_hits_total",
    help: "Refreshes with a just-rotated-out token inside REFRESH_REUSE_GRACE_SECONDS, answered with the same new token.",
    registers: [this.registry],
  });

  readonly failOpenAcceptances = new Counter({
    name: "auth_fail_open_acceptances_total",
    help: "Tokens accepted on their signature alone while the store was down (REVOCATION_FAILURE_MODE=open).",
    registers: [this.registry],
  });

  readonly storeLatency = new Histogram({
    name: "auth_store_round_trip_seconds",
    help: "Latency of store calls, by operation.",
    labelNames: ["operation"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly storeErrors = new Counter({
    name: "auth_store_errors_total",
    help: "Store calls that failed (Redis unreachable, timed out, or erred), by operation.",
    labelNames: ["operation"] as const,
    registers: [this.registry],
  });

  readonly loginFailures = new Counter({
    name: "auth_login_failures_total",
    help: "Logins refused for a wrong password or an unknown email.",
    registers: [this.registry],
  });

  readonly throttled = new Counter({
    name: "auth_throttled_total",
    help: "Attempts refused by throttling, by reason: LOGIN_THROTTLED, REGISTER_THROTTLED.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly refreshReuse = new Counter({
    name: "auth_refresh_reuse_total",
    help: "Refresh tokens presented after they were rotated out (each ends its session).",
    registers: [this.registry],
  });

  readonly adminActions = new Counter({
    name: "auth_admin_actions_total",
    help: "Admin actions on users, by action.",
    labelNames: ["action"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
