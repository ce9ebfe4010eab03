import cluster from "node:cluster";
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

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
    help: "Revocations by kind: logout, session, all_sessions, other_sessions, password_change, refresh_reuse, user_disabled, session_cap, roles_changed, passkey_removed, password_reset, email_change, email_change_cancelled.",
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

  readonly passkeyFailures = new Counter({
    name: "auth_passkey_failures_total",
    help: "Passkey sign-ins refused, by cause (unknown_credential, not_verified, user_not_verified, challenge, counter_regressed, ...).",
    labelNames: ["cause"] as const,
    registers: [this.registry],
  });

  readonly passkeyChanges = new Counter({
    name: "auth_passkey_changes_total",
    help: "Passkeys registered and removed, by change.",
    labelNames: ["change"] as const,
    registers: [this.registry],
  });

  readonly throttled = new Counter({
    name: "auth_throttled_total",
    help: "Attempts refused by throttling, by reason: LOGIN_THROTTLED, REGISTER_THROTTLED, MFA_THROTTLED, PASSKEY_THROTTLED, RECOVERY_THROTTLED.",
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

  readonly liveConnections = new Gauge({
    name: "auth_live_connections",
    help: "Authenticated WebSocket connections (subscriptions) open on this instance.",
    registers: [this.registry],
  });

  readonly liveClosed = new Counter({
    name: "auth_live_closed_total",
    help: "Authenticated WebSocket connections closed by the server, by reason: TOKEN_REVOKED, ACCOUNT_DISABLED, TOKEN_EXPIRED, ROLES_CHANGED, STORE_UNAVAILABLE, CONNECTION_LIMIT, SERVER_SHUTTING_DOWN.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly liveRevocationLatency = new Histogram({
    name: "auth_live_revocation_close_seconds",
    help: "From a revocation event's timestamp (on the instance that revoked) to this instance closing an affected connection.",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly liveUnconfirmed = new Counter({
    name: "auth_live_unconfirmed_total",
    help: "Connections left open by a re-check the store could not answer (REVOCATION_FAILURE_MODE=open), once per connection per re-check.",
    registers: [this.registry],
  });

  readonly liveAuditSubscriptions = new Gauge({
    name: "auth_live_audit_subscriptions",
    help: "Live auditEvents subscriptions on this instance; while there is one, the instance holds one connection tailing the audit stream.",
    registers: [this.registry],
  });

  readonly liveAuditTailErrors = new Counter({
    name: "auth_live_audit_tail_errors_total",
    help: "Failed reads of the audit stream for live subscribers; each is retried with back-off from the same position.",
    registers: [this.registry],
  });

  readonly liveAuditOverflows = new Counter({
    name: "auth_live_audit_overflows_total",
    help: "Live auditEvents subscriptions ended because their client fell LIVE_AUDIT_MAX_QUEUED events behind (SUBSCRIBER_TOO_SLOW).",
    registers: [this.registry],
  });

  readonly auditEvents = new Counter({
    name: "auth_audit_events_total",
    help: "Audit events recorded, by type (SIGNED_IN, LOGIN_FAILED, USER_DISABLED, ...).",
    labelNames: ["type"] as const,
    registers: [this.registry],
  });

  readonly auditWriteFailures = new Counter({
    name: "auth_audit_write_failures_total",
    help: "Audit events that could not be written to the Redis trail (logged; the operation itself went on).",
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: "auth_http_request_duration_seconds",
    help: "Time to answer HTTP requests, by route (unmatched for 404s) and status class (2xx, 4xx, ...).",
    labelNames: ["route", "status_class"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** Asked at each scrape; set by the composition root once the store exists. */
  readinessProbe: (() => Promise<boolean>) | null = null;

  readonly ready = (() => {
    const metrics = this;
    return new Gauge({
      name: "auth_ready",
      help: "1 when the store answered a ping at this scrape (what /readyz reports), else 0.",
      // Across cluster workers: ready only if every worker is.
      aggregator: "min",
      registers: [this.registry],
      async collect() {
        if (metrics.readinessProbe) this.set((await metrics.readinessProbe()) ? 1 : 0);
      },
    });
  })();

  readonly mfaEvents = new Counter({
    name: "auth_mfa_events_total",
    help: "Second-factor events: pending (a password sign-in waits for its second factor), enrolled, verified, failed, throttled, locked, recovery_code_used, recovery_codes_regenerated, disabled, reset.",
    labelNames: ["event"] as const,
    registers: [this.registry],
  });

  readonly accountEmailEvents = new Counter({
    name: "auth_account_email_events_total",
    help: "Account recovery and email events, by event: password_reset_requested, password_reset, verification_sent, email_verified, email_change_requested, email_changed, email_change_cancelled, register_existing_address.",
    labelNames: ["event"] as const,
    registers: [this.registry],
  });

  readonly mailSent = new Counter({
    name: "auth_mail_sent_total",
    help: "Mails handed to the mail transport, by template.",
    labelNames: ["template"] as const,
    registers: [this.registry],
  });

  readonly mailFailures = new Counter({
    name: "auth_mail_failures_total",
    help: "Mails given up on after every attempt failed (or dropped because the queue was full), by template and outcome: failed, dropped.",
    labelNames: ["template", "outcome"] as const,
    registers: [this.registry],
  });

  readonly mailRetries = new Counter({
    name: "auth_mail_retries_total",
    help: "Failed mail attempts that were retried later.",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

/** What GET /metrics answers with. */
export type MetricsExposition = () => Promise<{ contentType: string; body: string }>;

const METRICS_REQUEST = "auth-api:metrics";
const METRICS_TIMEOUT_MS = 5_000;

interface MetricsMessage {
  readonly type: typeof METRICS_REQUEST;
  readonly id: number;
  readonly body?: string;
  readonly error?: string;
}

const isMetricsMessage = (message: unknown): message is MetricsMessage =>
  typeof message === "object" && message !== null && (message as { type?: unknown }).type === METRICS_REQUEST;

/**
 * This process's metrics; in a cluster worker (WORKERS > 1), every worker's added together: the
 * worker asks the primary, which gathers them all with prom-client's AggregatorRegistry.
 */
export function metricsExposition(metrics: Metrics): MetricsExposition {
  if (!cluster.isWorker) {
    return async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() });
  }
  // Constructing one makes this worker answer the primary's requests for its own registry.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
  const pending = new Map<number, (message: MetricsMessage) => void>();
  let next = 0;
  process.on("message", (message: unknown) => {
    if (isMetricsMessage(message)) pending.get(message.id)?.(message);
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => settle({ type: METRICS_REQUEST, id, error: "the primary did not answer" }), METRICS_TIMEOUT_MS);
      function settle(message: MetricsMessage) {
        clearTimeout(timer);
        pending.delete(id);
        if (message.body === undefined) reject(new Error(`cluster metrics: ${message.error}`));
        else resolve({ contentType: metrics.registry.contentType, body: message.body });
      }
      pending.set(id, settle);
      process.send!({ type: METRICS_REQUEST, id });
    });
}

/** In the primary: answers each worker's request with every worker's metrics together. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker, message: unknown) => {
    if (!isMetricsMessage(message)) return;
    aggregator.clusterMetrics().then(
      (body) => worker.isConnected() && worker.send({ type: METRICS_REQUEST, id: message.id, body }),
      (error: Error) => worker.isConnected() && worker.send({ type: METRICS_REQUEST, id: message.id, error: error.message }),
    );
  });
}
