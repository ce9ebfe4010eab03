import { Writable } from "node:stream";
import pino from "pino";
import { LoginDocument, SessionsDocument } from "../../schema/generated/graphql";
import { loadConfig } from "../../src/config";
import { keys } from "@revocable-auth/verifier/internal";
import { startServer, type RunningServer } from "../../src/server";
import { testEnv } from "../support/api";
import { PASSWORD, register, send } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

let redis: TestRedis;
let api: RunningServer;
let output = "";

beforeAll(async () => {
  redis = await startRedis();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString();
      done();
    },
  });
  api = await startServer(loadConfig(testEnv(redis.url)), { logger: pino({ level: "info" }, sink) });
});
afterAll(async () => {
  await api.stop();
  await redis.destroy();
});

/** Replaces a user's session list with a plain string: every command on it now fails with WRONGTYPE. */
const corruptSessionList = async (userId: string) => {
  await redis.client.del(keys.sessions(userId));
  await redis.client.set(keys.sessions(userId), "not a sorted set");
};

describe("a Redis error reply that is not an outage", () => {
  it("answers a query 500 INTERNAL_SERVER_ERROR, not 503, and logs the reply", async () => {
    const user = await register(api.url);
    await corruptSessionList(user.user.id);
    const result = await send(api.url, SessionsDocument, {}, { token: user.accessToken });
    expect(result.status).toBe(500);
    expect(result.headers.get("retry-after")).toBeNull();
    expect(result.error).toMatchObject({ code: "INTERNAL_SERVER_ERROR", message: "Internal server error" });
    expect(output).toMatch(/WRONGTYPE[^\n]*store call refused by Redis/);
  });

  it("answers a script failure (a login whose session script hits WRONGTYPE) 500, never echoing arguments", async () => {
    const user = await register(api.url);
    await corruptSessionList(user.user.id);
    const result = await send(api.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD } });
    expect(result.status).toBe(500);
    expect(result.error?.code).toBe("INTERNAL_SERVER_ERROR");
    expect(output).toMatch(/user_script|WRONGTYPE/);
    // No script argument (the session JSON names the user); audit lines name the user on purpose.
    const errorLines = output.split("\n").filter((line) => !line.includes('"audit":'));
    expect(errorLines.join("\n")).not.toContain(user.user.id + '"');
    expect(output).not.toContain("refreshJti");
  });

  it("still answers an outage 503 with Retry-After", async () => {
    const user = await register(api.url);
    redis.pause();
    try {
      const result = await send(api.url, SessionsDocument, {}, { token: user.accessToken });
      expect(result.status).toBe(503);
      expect(result.headers.get("retry-after")).toBe("1");
    } finally {
      redis.resume();
    }
  });
});
