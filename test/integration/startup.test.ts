import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { resolve } from "node:path";
import { UsersDocument } from "../../schema/generated/graphql";
import { spawnApi, startApi, testEnv } from "../support/api";
import { login, PASSWORD, send, uniqueEmail } from "../support/client";
import { Mailbox } from "../support/mailbox";
import { freePort, startRedis, type TestRedis } from "../support/redis";
import { eventually } from "../support/redis-node";

const ENTRY = resolve(__dirname, "../../dist/index.js");

/** Runs the built entry point expecting it to refuse to start. */
function refusedStart(env: Record<string, string>): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [ENTRY], { env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 15_000 });
  return { status: result.status, output: result.stdout + result.stderr };
}

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.destroy());

describe("starting the service", () => {
  it("stops with a message naming the variable when a value is invalid", () => {
    const { status, output } = refusedStart({ ...testEnv(null), ACCESS_TOKEN_TTL: "soon" });
    expect(status).toBe(2);
    expect(output).toContain("ACCESS_TOKEN_TTL");
  });

  it("refuses a trace sampler it does not know, or a ratio outside 0..1, with exit 2 rather than tracing everything", () => {
    const traced = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" };
    const unknown = refusedStart(testEnv(null, { ...traced, OTEL_TRACES_SAMPLER: "parentbased_sometimes" }));
    expect(unknown.status).toBe(2);
    expect(unknown.output).toContain('OTEL_TRACES_SAMPLER must be one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, got "parentbased_sometimes"');
    const ratio = refusedStart(testEnv(null, { ...traced, OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "10" }));
    expect(ratio.status).toBe(2);
    expect(ratio.output).toContain('OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1 (the share of traces kept), got "10"');
  });

  it("refuses a sign-in provider without an issuer with exit 2, naming OIDC_<N>_ISSUER", () => {
    const { status, output } = refusedStart(testEnv(null, { OIDC_PROVIDERS: "corp", OIDC_CORP_CLIENT_ID: "api-corp", OIDC_CORP_CLIENT_SECRET: "secret-of-corp-0123456789" }));
    expect(status).toBe(2);
    expect(output).toContain('OIDC_CORP_ISSUER is required for the provider "corp" of OIDC_PROVIDERS');
    expect(output).not.toContain("secret-of-corp-0123456789");
  });

  it("reports every configuration problem at once, each naming its variable, and exits 2", () => {
    const env = testEnv(redis.url, {
      NODE_ENV: "production",
      ACCESS_TOKEN_TTL: "soon",
      LOG_LEVEL: "loud",
      EXPLORER: "maybe",
      REDIS_URL: "http://localhost:6379",
      ADMIN_EMAIL: "admin@example.com",
    });
    delete env.JWT_SECRET;
    const { status, output } = refusedStart(env);
    expect(status).toBe(2);
    for (const variable of ["JWT_SECRET", "ACCESS_TOKEN_TTL", "LOG_LEVEL", "EXPLORER", "REDIS_URL", "ADMIN_PASSWORD"]) {
      expect(output).toContain(variable);
    }
    expect(output).not.toMatch(/Failed to start/);
  });

  it("exits 1, not 2, when the configuration is valid but the start fails (the port is taken)", async () => {
    const taken = createServer();
    taken.listen(0);
    await once(taken, "listening");
    try {
      const port = (taken.address() as AddressInfo).port;
      const { status, output } = refusedStart(testEnv(null, { PORT: String(port) }));
      expect(status).toBe(1);
      expect(output).toMatch(/EADDRINUSE/);
      expect(output).not.toMatch(/Invalid configuration/);
    } finally {
      taken.close();
    }
  });

  it("refuses production without JWT_SECRET", () => {
    const env = testEnv(redis.url, { NODE_ENV: "production" });
    delete env.JWT_SECRET;
    const { status, output } = refusedStart(env);
    expect(status).toBe(2);
    expect(output).toContain("JWT_SECRET is required");
  });

  it("refuses production without MFA_ENCRYPTION_KEY, as a configuration error", () => {
    const { status, output } = refusedStart(testEnv(redis.url, { NODE_ENV: "production" }));
    expect(status).toBe(2);
    expect(output).toContain("MFA_ENCRYPTION_KEY is required when NODE_ENV=production");
  });

  it("warns that it seals TOTP secrets with a key made for this process without MFA_ENCRYPTION_KEY", async () => {
    const api = await spawnApi(null);
    try {
      expect(api.output()).toMatch(/MFA_ENCRYPTION_KEY is not set/);
    } finally {
      expect(await api.stop()).toBe(0);
    }
  });

  it("refuses production without MAIL_URL with exit 2, naming MAIL_URL=off as the way to turn mail off", () => {
    const { status, output } = refusedStart(testEnv(redis.url, { NODE_ENV: "production" }));
    expect(status).toBe(2);
    expect(output).toContain("MAIL_URL is required when NODE_ENV=production");
    expect(output).toContain("MAIL_URL=off");
  });

  it("refuses production under ES256 without JWT_KEYS_FILE, as a configuration error", () => {
    const { status, output } = refusedStart(testEnv(redis.url, { NODE_ENV: "production", JWT_ALGORITHM: "ES256", JWT_SECRET: "" }));
    expect(status).toBe(2);
    expect(output).toContain("JWT_KEYS_FILE is required when NODE_ENV=production and JWT_ALGORITHM=ES256");
  });

  it("warns that it signs with a key made for this process under ES256 without JWT_KEYS_FILE", async () => {
    const api = await spawnApi(null, { JWT_ALGORITHM: "ES256", JWT_SECRET: "" });
    try {
      expect(api.output()).toMatch(/JWT_KEYS_FILE is not set: signing with an ES256 key made for this process/);
    } finally {
      expect(await api.stop()).toBe(0);
    }
  });

  it("refuses the embedded store in production as a configuration error, reported with the others", () => {
    const env = testEnv(null, { NODE_ENV: "production", ACCESS_TOKEN_TTL: "soon" });
    delete env.JWT_SECRET;
    const { status, output } = refusedStart(env);
    expect(status).toBe(2);
    expect(output).toMatch(/REDIS_URL \(or REDIS_CLUSTER_NODES, or REDIS_SENTINELS\) is required/);
    expect(output).toContain("JWT_SECRET is required");
    expect(output).toContain("ACCESS_TOKEN_TTL");
  });

  it("stops naming the variable when two Redis modes are set at once", () => {
    const { status, output } = refusedStart(testEnv(redis.url, { REDIS_CLUSTER_NODES: "127.0.0.1:1" }));
    expect(status).toBe(2);
    expect(output).toContain("REDIS_URL and REDIS_CLUSTER_NODES are set");
  });

  it("logs each failed attempt to reach Redis, at most once a second, with host, port and cause but no password", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [ENTRY], {
      env: { PATH: process.env.PATH ?? "", ...testEnv(`redis://:hunter2-secret@127.0.0.1:${port}`, { LOG_LEVEL: "info" }) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const started = Date.now();
    // 2.5 s from the first attempt, however long the process took to start: a fixed 3.5 s from the
    // spawn saw a single attempt when a busy machine took two seconds to load the process.
    await eventually("the first attempt is logged", async () => output.includes("waiting for Redis"));
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const elapsed = Date.now() - started;
    child.kill("SIGKILL");
    await once(child, "exit");
    const attempts = output.split("\n").filter((line) => line.includes("waiting for Redis")).map((line) => JSON.parse(line));
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
    expect(attempts[0]).toMatchObject({ host: "127.0.0.1", port, cause: "ECONNREFUSED" });
    expect(output).not.toContain("hunter2");
  });

  it("warns that the embedded store is single-instance and not durable, and that the secret is random", async () => {
    const api = await spawnApi(null, { JWT_SECRET: "" });
    try {
      expect(api.output()).toMatch(/embedded in-memory store.*one instance only/);
      expect(api.output()).toMatch(/JWT_SECRET is not set: using a random secret/);
    } finally {
      expect(await api.stop()).toBe(0);
    }
  });

  it("creates the admin from ADMIN_EMAIL and ADMIN_PASSWORD once, however often it starts", async () => {
    const email = uniqueEmail("root");
    const env = { ADMIN_EMAIL: email.toUpperCase(), ADMIN_PASSWORD: PASSWORD };
    const first = await startApi(redis.url, env);
    await first.stop();
    const [second, third] = await Promise.all([startApi(redis.url, env), startApi(redis.url, env)]);
    try {
      const admin = await login(second.url, email);
      expect(admin.user.roles).toContain("ADMIN");
      const users = await send(third.url, UsersDocument, { first: 100 }, { token: admin.accessToken });
      expect(users.data!.users.edges.filter((edge) => edge.node.email === email)).toHaveLength(1);
    } finally {
      await second.stop();
      await third.stop();
    }
  });
});

describe("checking the SMTP server at start", () => {
  const lineOf = (api: { output(): string }, message: RegExp) =>
    api
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => message.test(String(line.msg)));

  it("starts and is ready with an SMTP host that refuses connections, and warns naming host and cause, never the password", async () => {
    const port = await freePort();
    const api = await spawnApi(null, { MAIL_URL: `smtp://mailer:smtp-hunter2@127.0.0.1:${port}` });
    try {
      expect((await fetch(api.url.replace(/graphql$/, "readyz"))).status).toBe(200);
      await eventually("the SMTP warning", async () => lineOf(api, /cannot reach the SMTP server/) !== undefined, 15_000);
      const warning = lineOf(api, /cannot reach the SMTP server/)!;
      expect(warning).toMatchObject({ level: 40, smtp: { host: "127.0.0.1", port } });
      expect(warning.msg).toContain(`127.0.0.1:${port}`);
      expect(String(warning.cause)).toContain("ECONNREFUSED");
      expect(api.output()).not.toContain("smtp-hunter2");
    } finally {
      expect(await api.stop()).toBe(0);
    }
  });

  it("does not wait for an SMTP server that never answers: ready before the check ends", async () => {
    const silent = createServer(() => undefined);
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const port = (silent.address() as AddressInfo).port;
    const api = await spawnApi(null, { MAIL_URL: `smtp://127.0.0.1:${port}` });
    try {
      expect((await fetch(api.url.replace(/graphql$/, "readyz"))).status).toBe(200);
      // The check is still waiting for the greeting (10 s): neither outcome is logged yet.
      expect(lineOf(api, /SMTP server/)).toBeUndefined();
    } finally {
      expect(await api.stop()).toBe(0);
      silent.close();
    }
  });

  it("logs no warning when the SMTP server answers", async () => {
    const mailbox = await Mailbox.start();
    const api = await spawnApi(null, { MAIL_URL: mailbox.url });
    try {
      await eventually("the SMTP check", async () => lineOf(api, /SMTP server/) !== undefined, 15_000);
      expect(lineOf(api, /SMTP server/)).toMatchObject({ level: 30, msg: "the SMTP server (MAIL_URL) answered" });
      expect(lineOf(api, /cannot reach the SMTP server/)).toBeUndefined();
    } finally {
      expect(await api.stop()).toBe(0);
      await mailbox.stop();
    }
  });
});

describe("stopping the service", () => {
  it("stops once however often stop is called: every call resolves, and no connection of the instance is left on Redis", async () => {
    const own = await startRedis();
    try {
      const api = await startApi(own.url);
      const connections = async () => String(await own.client.client("LIST")).trim().split("\n").length;
      expect(await connections()).toBeGreaterThan(1);
      await expect(Promise.all([api.stop(), api.stop()])).resolves.toEqual([undefined, undefined]);
      await expect(api.stop()).resolves.toBeUndefined();
      // Only the test's own client is left, once Redis has seen the others go.
      const deadline = Date.now() + 3_000;
      while ((await connections()) > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await connections()).toBe(1);
    } finally {
      await own.destroy();
    }
  });
});
