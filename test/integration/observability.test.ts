import { existsSync, readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { startApi, type TestApi } from "../support/api";

const DEPLOY = resolve(__dirname, "../../deploy");
/** Series Prometheus makes itself, not the API. */
const PROMETHEUS_OWN = new Set(["up"]);
const NOT_METRICS = new Set(["and", "or", "unless", "offset", "bool", "inf", "nan"]);

/** The metric names a PromQL expression reads: identifiers that are not functions, labels, keywords or durations. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = [...stripped.matchAll(/(?<![A-Za-z0-9_:.$])([A-Za-z_:][A-Za-z0-9_:]*)(?![A-Za-z0-9_:]|\s*\()/g)].map((match) => match[1]!);
  return names.filter((name) => !NOT_METRICS.has(name.toLowerCase()) && !/^\d/.test(name));
}

function dashboardExpressions(): string[] {
  const files = readdirSync(resolve(DEPLOY, "grafana")).filter((file) => file.endsWith(".json"));
  const expressions: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if ((key === "expr" || key === "query") && typeof value === "string" && !value.startsWith("label_values")) expressions.push(value);
        else if (key === "query" && typeof value === "string") expressions.push(/label_values\((\w+)/.exec(value)![1]!);
        else walk(value);
      }
    }
  };
  for (const file of files) walk(JSON.parse(readFileSync(resolve(DEPLOY, "grafana", file), "utf8")));
  return expressions;
}

function alertExpressions(): string[] {
  const files = readdirSync(resolve(DEPLOY, "prometheus")).filter((file) => /\.ya?ml$/.test(file) && file !== "prometheus.yml");
  return files.flatMap((file) => {
    const rules = parse(readFileSync(resolve(DEPLOY, "prometheus", file), "utf8")) as { groups: { rules: { expr: string }[] }[] };
    return rules.groups.flatMap((group) => group.rules.map((rule) => String(rule.expr)));
  });
}

describe("the shipped dashboard and alert rules", () => {
  let api: TestApi;
  let exported: Map<string, string>;
  beforeAll(async () => {
    api = await startApi(null);
    const text = await (await fetch(api.url.replace(/graphql$/, "metrics"))).text();
    exported = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => [match[1]!, match[2]!]));
  });
  afterAll(() => api?.stop());

  const isExported = (name: string) => {
    if (exported.has(name) || PROMETHEUS_OWN.has(name)) return true;
    const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
    return base !== undefined && ["histogram", "summary"].includes(exported.get(base) ?? "");
  };

  it.each([
    ["the Grafana dashboard", dashboardExpressions],
    ["the Prometheus alert rules", alertExpressions],
  ])("%s names only metrics the API exports", (_name, expressions) => {
    const names = new Set(expressions().flatMap(metricNames));
    expect(names.size).toBeGreaterThan(4);
    expect([...names].filter((name) => !isExported(name))).toEqual([]);
  });

  it("alerts on failed-login spikes, refresh reuse, fail-open acceptances, Redis and readiness", () => {
    const names = new Set(alertExpressions().flatMap(metricNames));
    for (const name of ["auth_login_failures_total", "auth_refresh_reuse_total", "auth_fail_open_acceptances_total", "auth_store_errors_total", "auth_ready"]) {
      expect(names).toContain(name);
    }
  });

  it("exports readiness and request latency, which the dashboard and alerts rely on", async () => {
    const text = await (await fetch(api.url.replace(/graphql$/, "metrics"))).text();
    expect(text).toMatch(/^auth_ready 1$/m);
    expect(text).toMatch(/^auth_http_request_duration_seconds_count\{route="\/metrics",status_class="2xx"\} \d+$/m);
  });

  it("reads metric names out of PromQL, so a misspelt one is caught", () => {
    expect(metricNames('sum by (le, operation) (rate(auth_store_round_trip_seconds_bucket{job=~"$job",route="/x"}[$__rate_interval]))')).toEqual([
      "auth_store_round_trip_seconds_bucket",
    ]);
    expect(metricNames("sum(rate(auth_login_failures_total[5m])) > 3 * sum(rate(auth_login_failurs_total[1d] offset 5m)) or vector(0)")).toEqual([
      "auth_login_failures_total",
      "auth_login_failurs_total",
    ]);
    expect(isExported("auth_login_failurs_total")).toBe(false);
  });
});

describe("the compose observability profile", () => {
  const compose = parse(readFileSync(resolve(DEPLOY, "../docker-compose.yml"), "utf8")) as {
    services: Record<string, { profiles?: string[]; volumes?: string[] }>;
  };

  it("adds Prometheus and Grafana only under the profile, each mounting files that exist", () => {
    const optional = Object.entries(compose.services).filter(([, service]) => service.profiles?.includes("observability"));
    expect(optional.map(([name]) => name).sort()).toEqual(["grafana", "prometheus"]);
    expect(compose.services.api!.profiles).toBeUndefined();
    for (const [, service] of optional) {
      for (const volume of service.volumes ?? []) expect(existsSync(resolve(DEPLOY, "..", volume.split(":")[0]!))).toBe(true);
    }
  });

  it("points Prometheus at the API and at the alert rules, and Grafana at the dashboard", () => {
    const prometheus = parse(readFileSync(resolve(DEPLOY, "prometheus/prometheus.yml"), "utf8"));
    expect(prometheus.scrape_configs[0].static_configs[0].targets).toEqual(["api:4000"]);
    expect(compose.services.prometheus!.volumes).toContain(`./deploy/prometheus/alerts.yml:${prometheus.rule_files[0]}:ro`);
    expect(compose.services.grafana!.volumes).toContain("./deploy/grafana/auth-api.json:/var/lib/grafana/dashboards/auth-api.json:ro");
  });
});
