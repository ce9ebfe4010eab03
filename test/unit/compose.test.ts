import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { ConfigError, loadConfig } from "../../src/config";
import { markedBlocks, ROOT } from "../support/readme";

/** docker-compose.yml and .env.example read as compose would (no docker here): interpolation from .env. */
const composeFile = readFileSync(resolve(ROOT, "docker-compose.yml"), "utf8");
/** Without comment lines, which compose does not interpolate. */
const compose = composeFile.replace(/^\s*#.*\n/gm, "");
const envExample = readFileSync(resolve(ROOT, ".env.example"), "utf8");

type Vars = Record<string, string>;

/** KEY=VALUE lines of an env file; comments and blank lines skipped. */
function parseEnvFile(text: string): Vars {
  const vars: Vars = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) vars[match[1]] = match[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return vars;
}

/** Compose's `${VAR}`, `${VAR:-default}` and `${VAR-default}`. */
function interpolate(value: string, vars: Vars): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?:(:?-)([^}]*))?\}/g, (_, name: string, op: string | undefined, fallback = "") => {
    const set = vars[name];
    if (op === ":-") return set ? set : fallback;
    if (op === "-") return set ?? fallback;
    return set ?? "";
  });
}

/** The api service's environment mapping, one `KEY: value` a line. */
function apiEnvironment(): Vars {
  const section = /\n {2}api:\n[\s\S]*?\n {4}environment:\n((?: {6}.*\n)+)/.exec(compose);
  const entries = section![1].trimEnd().split("\n").map((line) => /^ {6}([A-Z_][A-Z0-9_]*): (.*)$/.exec(line)!);
  return Object.fromEntries(entries.map(([, key, value]) => [key, value.replace(/^"(.*)"$/, "$1")]));
}

/**
 * The API's environment as compose makes it: the env_file's variables (oidc.env, when there is one),
 * then the environment mapping interpolated from .env, which wins over them.
 */
function configFrom(dotEnv: Vars, oidcEnv: Vars = {}) {
  const env = apiEnvironment();
  return loadConfig({ ...oidcEnv, ...Object.fromEntries(Object.entries(env).map(([key, value]) => [key, interpolate(value, dotEnv)])) });
}

describe("docker-compose.yml and .env.example", () => {
  it("lists in .env.example every variable the compose file reads, and no other", () => {
    const read = new Set([...compose.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]));
    expect(Object.keys(parseEnvFile(envExample)).sort()).toEqual([...read].sort());
  });

  it("requires no variable of compose itself, so down, logs and ps work in any shell", () => {
    expect(compose).not.toMatch(/\$\{[A-Z_][A-Z0-9_]*:?\?/);
  });

  it("publishes the API on 127.0.0.1 unless told otherwise", () => {
    expect(compose).toMatch(/- "\$\{API_BIND:-127\.0\.0\.1\}:\$\{API_PORT:-4000\}:4000"/);
    expect(parseEnvFile(envExample).API_BIND).toBe("127.0.0.1");
  });

  it("listens on every interface inside the container, in compose and in the image (the API's own default is localhost)", () => {
    expect(apiEnvironment().HOST).toBe("0.0.0.0");
    expect(readFileSync(resolve(ROOT, "Dockerfile"), "utf8")).toMatch(/\nENV HOST=0\.0\.0\.0\n/);
  });

  it("gives up restarting the API after a bounded number of failures", () => {
    const api = compose.slice(compose.indexOf("\n  api:"));
    expect(api).toMatch(/\n {4}restart: on-failure:\d+\n/);
  });

  it("refuses to run the API without its secrets, with the API's own configuration error", () => {
    const refused = (() => {
      try {
        configFrom(parseEnvFile(envExample));
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems).toEqual([
      "JWT_SECRET is required when NODE_ENV=production",
      "MFA_ENCRYPTION_KEY is required when NODE_ENV=production: it seals the TOTP secrets",
    ]);
  });

  it("runs the README's compose setup as written: .env keeps a generated secret, and the API accepts it", () => {
    const block = markedBlocks().find((b) => b.role === "compose")!;
    const lines = block.code.trimEnd().split("\n");
    expect(lines.at(-1)).toBe("docker compose up --build");
    const dir = mkdtempSync(join(tmpdir(), "compose-"));
    try {
      copyFileSync(resolve(ROOT, ".env.example"), join(dir, ".env.example"));
      const setup = spawnSync("bash", ["-eo", "pipefail", "-c", lines.slice(0, -1).join("\n")], { cwd: dir, encoding: "utf8" });
      expect({ status: setup.status, stderr: setup.stderr }).toEqual({ status: 0, stderr: "" });
      const dotEnv = parseEnvFile(readFileSync(join(dir, ".env"), "utf8"));
      expect(dotEnv.JWT_SECRET).toMatch(/^[0-9a-f]{64}$/);
      expect(Buffer.from(dotEnv.MFA_ENCRYPTION_KEY!, "base64")).toHaveLength(32);
      expect(dotEnv.POSTGRES_PASSWORD).toMatch(/^[0-9a-f]{48}$/);
      expect({ ...dotEnv, JWT_SECRET: "", MFA_ENCRYPTION_KEY: "", POSTGRES_PASSWORD: "" }).toEqual(parseEnvFile(envExample));

      const config = configFrom(dotEnv);
      expect(config.production).toBe(true);
      expect(config.jwt.secret).toBe(dotEnv.JWT_SECRET);
      expect(config.mfa).toMatchObject({ encryptionKey: dotEnv.MFA_ENCRYPTION_KEY, keyGenerated: false });
      expect(config.explorer).toBe(false); // as the README says: off in compose until EXPLORER=on
      expect(config.database).toEqual({ url: `postgres://auth:${dotEnv.POSTGRES_PASSWORD}@postgres:5432/auth`, migrate: true });
      expect(configFrom({ ...dotEnv, EXPLORER: "on" }).explorer).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs Postgres 16 with its data in a volume and a pg_isready health check, and starts the API once it is healthy", () => {
    const services = parse(composeFile).services;
    expect(services.postgres).toMatchObject({
      image: "postgres:16",
      environment: { POSTGRES_USER: "auth", POSTGRES_DB: "auth", POSTGRES_PASSWORD: "${POSTGRES_PASSWORD:-}" },
      volumes: ["postgres-data:/var/lib/postgresql/data"],
      healthcheck: { test: ["CMD", "pg_isready", "-U", "auth", "-d", "auth"] },
    });
    expect(services.postgres.ports).toBeUndefined();
    expect(parse(composeFile).volumes).toHaveProperty("postgres-data");
    expect(services.api.depends_on.postgres).toEqual({ condition: "service_healthy" });
  });

  it("points the API at that Postgres, as its user and with its password, migrating at start unless MIGRATE=off", () => {
    const dotEnv = { ...parseEnvFile(envExample), JWT_SECRET: "s".repeat(64), MFA_ENCRYPTION_KEY: Buffer.alloc(32).toString("base64"), POSTGRES_PASSWORD: "0a1b2c" };
    expect(configFrom(dotEnv).database).toEqual({ url: "postgres://auth:0a1b2c@postgres:5432/auth", migrate: true });
    expect(configFrom({ ...dotEnv, MIGRATE: "off" }).database?.migrate).toBe(false);
  });

  it("passes sign-in providers to the API: the names and URLs from .env, each provider's own variables from oidc.env, which may be absent", () => {
    expect(parse(composeFile).services.api.env_file).toEqual([{ path: "./oidc.env", required: false }]);
    const secrets = { JWT_SECRET: "s".repeat(64), MFA_ENCRYPTION_KEY: Buffer.alloc(32).toString("base64"), POSTGRES_PASSWORD: "0a1b2c" };
    const dotEnv = { ...parseEnvFile(envExample), ...secrets };
    // As shipped (no providers, no oidc.env): nothing is on.
    expect(configFrom(dotEnv).federation.providers).toEqual([]);
    // The commented oidc.env of .env.example, as a user writes it out.
    const oidcEnv = parseEnvFile(envExample.split("\n").filter((line) => line.startsWith("#   OIDC_")).map((line) => line.slice(4)).join("\n"));
    expect(Object.keys(oidcEnv)).toEqual(["OIDC_GOOGLE_CLIENT_ID", "OIDC_GOOGLE_CLIENT_SECRET", "OIDC_CORP_ISSUER", "OIDC_CORP_CLIENT_ID", "OIDC_CORP_CLIENT_SECRET", "OIDC_CORP_LABEL"]);
    const providers = { ...dotEnv, OIDC_PROVIDERS: "google,corp", PUBLIC_URL: "https://auth.example.com", ALLOWED_REDIRECT_URLS: "https://app.example.com/*" };
    const { federation } = configFrom(providers, oidcEnv);
    expect(federation.providers.map((provider) => [provider.id, provider.label, provider.kind === "oidc" && provider.issuer, provider.clientId])).toEqual([
      ["google", "Google", "https://accounts.google.com", oidcEnv.OIDC_GOOGLE_CLIENT_ID],
      ["corp", "Corp SSO", "https://login.example.com/realms/corp", "revocable-auth-api"],
    ]);
    expect(federation).toMatchObject({ publicUrl: "https://auth.example.com", allowedRedirectUrls: ["https://app.example.com/*"] });
    // The names in .env are what the API sees, whatever oidc.env says of them.
    expect(configFrom({ ...dotEnv, OIDC_PROVIDERS: "" }, { ...oidcEnv, OIDC_PROVIDERS: "corp" }).federation.providers).toEqual([]);
    // A provider named without its variables stops the start, naming them (exit 2).
    expect(() => configFrom(providers)).toThrow(ConfigError);
  });

  it("ships the migrations in the image, where the API reads them at start", () => {
    expect(readFileSync(resolve(ROOT, "Dockerfile"), "utf8")).toMatch(/\nCOPY migrations \.\/migrations\n/);
  });
});
