import { spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { ChangePasswordDocument, MeDocument, RegisterDocument } from "../../schema/generated/graphql";
import { spawnApi, testEnv, type ApiProcess } from "../support/api";
import { PASSWORD, send, uniqueEmail } from "../support/client";
import { startCollector, type Collector, type ReceivedSpan } from "../support/otlp";
import { freePort, startRedis, type TestRedis } from "../support/redis";

const randomHex = (bytes: number) => Buffer.from(Array.from({ length: bytes }, () => Math.floor(Math.random() * 256))).toString("hex");

describe("OpenTelemetry tracing, on", () => {
  let redis: TestRedis;
  let receiver: Collector;
  let api: ApiProcess;
  beforeAll(async () => {
    redis = await startRedis();
    receiver = await startCollector();
    api = await spawnApi(redis.url, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "50", OTEL_SERVICE_NAME: "auth-api-under-test" });
  }, 60_000);
  afterAll(async () => {
    await api?.stop();
    receiver?.server.close();
    await redis?.destroy();
  });

  /** The spans of one trace, once `name` is among them. */
  const trace = async (traceId: string, name: string) => {
    const deadline = Date.now() + 10_000;
    while (!receiver.spans.some((span) => span.traceId === traceId && span.name === name) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return receiver.spans.filter((span) => span.traceId === traceId);
  };
  const ancestors = (spans: ReceivedSpan[], span: ReceivedSpan): string[] => {
    const parent = spans.find((candidate) => candidate.spanId === span.parentSpanId);
    return parent ? [parent.name, ...ancestors(spans, parent)] : [];
  };

  it("continues the caller's trace (traceparent) with the HTTP, GraphQL, token, revocation and Redis spans nested", async () => {
    const email = uniqueEmail();
    const registered = await send(api.url, RegisterDocument, { input: { email, password: PASSWORD } });
    const traceId = randomHex(16);
    const callerSpan = randomHex(8);
    const result = await send(api.url, MeDocument, {}, { token: registered.data!.register.accessToken, headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
    expect(result.data?.me.email).toBe(email);

    const spans = await trace(traceId, "auth.revocation_check");
    const names = spans.map((span) => span.name);
    const server = spans.find((span) => span.parentSpanId === callerSpan)!;
    expect(server).toBeDefined();
    expect(server.kind).toBe(2); // SERVER
    const check = spans.find((span) => span.name === "auth.revocation_check")!;
    const verify = spans.find((span) => span.name === "auth.verify_token")!;
    expect(ancestors(spans, check)).toContain(server.name);
    expect(ancestors(spans, verify)).toContain(server.name);
    // ioredis's span for the one MGET is the revocation check's child.
    expect(spans.some((span) => span.parentSpanId === check.spanId && /mget/i.test(span.name))).toBe(true);
    expect(names.some((name) => name.startsWith("graphql."))).toBe(true);
    expect(names.some((name) => /fastify|request handler|handler/i.test(name))).toBe(true);
  });

  it("exports the five spans the docs list for a `me` whose document is cached, and no execute or resolver span", async () => {
    const { accessToken } = (await send(api.url, RegisterDocument, { input: { email: uniqueEmail(), password: PASSWORD } })).data!.register;
    await send(api.url, MeDocument, {}, { token: accessToken });
    const traceId = randomHex(16);
    await send(api.url, MeDocument, {}, { token: accessToken, headers: { traceparent: `00-${traceId}-${randomHex(8)}-01` } });
    await trace(traceId, "POST /graphql");
    // The server span ends last, but its children may leave in the next batch.
    await new Promise((r) => setTimeout(r, 300));
    const spans = receiver.spans.filter((span) => span.traceId === traceId);
    expect(spans.map((span) => span.name).sort()).toEqual(["POST /graphql", "auth.revocation_check", "auth.verify_token", "handler - handler", "mget"]);
  });

  it("exports OTLP protobuf, the spec's default OTEL_EXPORTER_OTLP_PROTOCOL", async () => {
    const traceId = randomHex(16);
    await send(api.url, MeDocument, {}, { headers: { traceparent: `00-${traceId}-${randomHex(8)}-01` } });
    expect(await trace(traceId, "POST /graphql")).not.toEqual([]);
    expect(new Set(receiver.contentTypes)).toEqual(new Set(["application/x-protobuf"]));
  });

  it("exports no script argument: no password hash, refresh token hash or email reaches the tracing backend", async () => {
    const traceId = randomHex(16);
    const email = uniqueEmail("traced");
    const registered = await send(api.url, RegisterDocument, { input: { email, password: PASSWORD } }, { headers: { traceparent: `00-${traceId}-${randomHex(8)}-01` } });
    const token = registered.data!.register.accessToken;
    const changed = await send(api.url, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: `${PASSWORD} 2` }, { token, headers: { traceparent: `00-${traceId}-${randomHex(8)}-01` } });
    expect(changed.errors).toBeUndefined();
    // A password written into the query text rather than a variable.
    await fetch(api.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: `mutation { login(input: { email: "${email}", password: "literal secret 123" }) { accessToken } }` }) });
    await trace(traceId, "store.session.change_password");
    await new Promise((r) => setTimeout(r, 300));
    const exported = receiver.bodies.join("\n");
    expect(exported).toMatch(/evalsha/i);
    expect(exported).not.toContain("$argon2");
    expect(exported).not.toContain(email);
    expect(exported).not.toContain("literal secret 123");
  });

  it("spans argon2 hashing and the session script, with the Redis script call inside it", async () => {
    const traceId = randomHex(16);
    await send(api.url, RegisterDocument, { input: { email: uniqueEmail(), password: PASSWORD } }, { headers: { traceparent: `00-${traceId}-${randomHex(8)}-01` } });
    const spans = await trace(traceId, "store.session.create");
    expect(spans.map((span) => span.name)).toContain("auth.argon2.hash");
    const script = spans.find((span) => span.name === "store.session.create")!;
    expect(spans.some((span) => span.parentSpanId === script.spanId && /eval/i.test(span.name))).toBe(true);
  });
});

describe("OpenTelemetry tracing, sampled (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG) and encoded (OTEL_EXPORTER_OTLP_PROTOCOL)", () => {
  let redis: TestRedis;
  const started: { api: ApiProcess; receiver: Collector }[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  }, 60_000);
  afterAll(async () => {
    for (const { api, receiver } of started) {
      await api.stop();
      receiver.server.close();
    }
    await redis?.destroy();
  });

  /** An API with its own collector, under these OTEL_* variables, and a user's token. */
  const start = async (env: Record<string, string>) => {
    const receiver = await startCollector();
    const api = await spawnApi(redis.url, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "50", ...env });
    started.push({ api, receiver });
    const registered = await send(api.url, RegisterDocument, { input: { email: uniqueEmail(), password: PASSWORD } });
    return { api, receiver, token: registered.data!.register.accessToken };
  };
  /** `me` as part of the caller's trace `traceId`, sampled by the caller or not; answers once its spans could have been exported. */
  const me = async ({ api, token }: { api: ApiProcess; token: string }, traceId: string, sampled: boolean) => {
    const result = await send(api.url, MeDocument, {}, { token, headers: { traceparent: `00-${traceId}-${randomHex(8)}-0${sampled ? 1 : 0}` } });
    expect(result.data?.me.id).toBeDefined();
  };
  const arrived = async (receiver: { spans: ReceivedSpan[] }, traceId: string) => {
    const deadline = Date.now() + 10_000;
    while (!receiver.spans.some((span) => span.traceId === traceId && span.name === "auth.revocation_check") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return receiver.spans.filter((span) => span.traceId === traceId);
  };

  it("at parentbased_traceidratio 0, exports no trace of its own, and every trace the caller sampled, in full", async () => {
    const server = await start({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" });
    const unsampled = randomHex(16);
    await me(server, unsampled, false);
    await send(server.api.url, MeDocument, {}, { token: server.token });
    const sampled = randomHex(16);
    await me(server, sampled, true);
    // Batches leave in order: once the sampled trace is in, anything before it would be too.
    const spans = await arrived(server.receiver, sampled);
    expect(spans.map((span) => span.name)).toEqual(expect.arrayContaining(["auth.verify_token", "auth.revocation_check", "mget"]));
    expect(spans.find((span) => span.kind === 2)).toBeDefined();
    expect(new Set(server.receiver.spans.map((span) => span.traceId))).toEqual(new Set([sampled]));
  });

  it("at traceidratio 0, exports nothing, even for a caller that sampled its trace", async () => {
    const server = await start({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" });
    await me(server, randomHex(16), true);
    await me(server, randomHex(16), false);
    await new Promise((r) => setTimeout(r, 1000));
    expect(server.receiver.spans).toEqual([]);
  });

  it("exports OTLP/JSON, with the same spans, at OTEL_EXPORTER_OTLP_PROTOCOL=http/json", async () => {
    const server = await start({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" });
    const traceId = randomHex(16);
    await me(server, traceId, true);
    expect((await arrived(server.receiver, traceId)).map((span) => span.name)).toEqual(expect.arrayContaining(["POST /graphql", "auth.verify_token", "auth.revocation_check", "mget"]));
    expect(new Set(server.receiver.contentTypes)).toEqual(new Set(["application/json"]));
  });

  it("at always_on, exports a trace the caller did not sample", async () => {
    const server = await start({ OTEL_TRACES_SAMPLER: "always_on" });
    const traceId = randomHex(16);
    await me(server, traceId, false);
    expect((await arrived(server.receiver, traceId)).map((span) => span.name)).toEqual(expect.arrayContaining(["auth.verify_token", "auth.revocation_check", "mget"]));
  });
});

/** Starts dist/index.js in a child and answers which OpenTelemetry modules it loaded once it serves (the no-op API aside). */
async function loadedTracingModules(env: Record<string, string>): Promise<string[]> {
  const port = await freePort();
  const probe = `
    require(${JSON.stringify(resolve(__dirname, "../../dist/index.js"))});
    const poll = setInterval(async () => {
      try { if (!(await fetch("http://127.0.0.1:${port}/healthz")).ok) return; } catch { return; }
      clearInterval(poll);
      const loaded = Object.keys(require.cache).filter((file) => /@opentelemetry|@fastify[\\\\/]otel/.test(file) && !/@opentelemetry[\\\\/]api[\\\\/]/.test(file));
      process.stdout.write(JSON.stringify(loaded));
      process.exit(0);
    }, 50);`;
  const child = spawn(process.execPath, ["-e", probe], {
    env: { PATH: process.env.PATH ?? "", ...testEnv(null, { PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "silent", ...env }) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await once(child, "exit");
  return JSON.parse(output) as string[];
}

describe("OpenTelemetry tracing, off", () => {
  // prom-client itself loads @opentelemetry/api (the no-op API, for exemplars), with or without tracing.
  it("loads no OpenTelemetry SDK, exporter or instrumentation module", async () => {
    expect(await loadedTracingModules({})).toEqual([]);
  });

  it("(the probe does see them when tracing is on)", async () => {
    const loaded = await loadedTracingModules({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" });
    expect(loaded.some((file) => file.includes("exporter-trace-otlp-http"))).toBe(true);
    expect(loaded.some((file) => file.includes("exporter-trace-otlp-proto"))).toBe(true);
  });
});
