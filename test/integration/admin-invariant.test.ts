import { Cluster, Redis } from "ioredis";
import { keys } from "@revocable-auth/verifier/internal";
import { SetUserDisabledDocument, SetUserRolesDocument, UsersDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startStore, type StoreBackend } from "../support/stores";

type Role = "USER" | "ADMIN";

const ROUNDS = 20;
const MUTATIONS_PER_ROUND = 20;
const POOL = 5;

/** A small seeded generator, so a failing round can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

interface Account {
  readonly id: string;
  readonly email: string;
}

describe.each([["redis"], ["cluster"], ["postgres"]] as const)("the enabled-admin invariant on %s, under concurrent admin changes on two instances", (mode) => {
  let backend: StoreBackend;
  let apis: TestApi[];
  let redis: Redis | Cluster;
  const pool: Account[] = [];

  beforeAll(async () => {
    backend = await startStore(mode);
    const rootEmail = uniqueEmail("root");
    const env = { ...backend.env, ADMIN_EMAIL: rootEmail, ADMIN_PASSWORD: PASSWORD };
    apis = [await startApi(null, env), await startApi(null, env)];
    redis =
      mode === "cluster"
        ? new Cluster(backend.env.REDIS_CLUSTER_NODES!.split(",").map((address) => ({ host: "127.0.0.1", port: Number(address.split(":")[1]) })))
        : new Redis(backend.env.REDIS_URL!);
    const root = await login(apis[0]!.url, rootEmail);
    pool.push({ id: root.user.id, email: rootEmail });
    for (let i = 1; i < POOL; i++) {
      const user = await register(apis[i % 2]!.url);
      pool.push({ id: user.user.id, email: user.user.email });
      const promoted = await send(apis[0]!.url, SetUserRolesDocument, { userId: user.user.id, roles: ["USER", "ADMIN"] }, { token: root.accessToken });
      expect(promoted.data?.setUserRoles.roles).toEqual(["USER", "ADMIN"]);
    }
  }, 60_000);

  afterAll(async () => {
    redis?.disconnect();
    for (const api of apis ?? []) await api.stop();
    await backend?.destroy();
  });

  /**
   * The user records and the index, read straight from Redis. With the directory in Postgres, the
   * enabled admins are Postgres' and the "index" the access records in Redis: they must agree too.
   */
  async function stored(): Promise<{ enabledAdmins: string[]; index: string[] }> {
    if (mode === "postgres") {
      const database = backend.env.DATABASE_URL!.split("/").at(-1);
      const rows = await backend.postgres!.query<{ id: string }>("SELECT id::text FROM users WHERE 'ADMIN' = ANY(roles) AND NOT disabled", [], database);
      const enabledAdmins = rows.map((row) => row.id).filter((id) => pool.some((account) => account.id === id));
      const index: string[] = [];
      for (const { id } of pool) {
        const user = JSON.parse((await redis.get(keys.user(id)))!) as { roles: Role[]; disabled: boolean };
        if (!user.disabled && user.roles.includes("ADMIN")) index.push(id);
      }
      return { enabledAdmins: enabledAdmins.sort(), index: index.sort() };
    }
    const enabledAdmins: string[] = [];
    for (const { id } of pool) {
      const user = JSON.parse((await redis.get(keys.user(id)))!) as { roles: Role[]; disabled: boolean };
      if (!user.disabled && user.roles.includes("ADMIN")) enabledAdmins.push(id);
    }
    const index = (await redis.smembers(keys.enabledAdmins())).filter((id) => pool.some((account) => account.id === id));
    return { enabledAdmins: enabledAdmins.sort(), index: index.sort() };
  }

  it(`keeps at least one enabled admin, and the index equal to the records, after ${ROUNDS} rounds of ${MUTATIONS_PER_ROUND} parallel changes`, async () => {
    const next = random(mode === "cluster" ? 21 : mode === "postgres" ? 32 : 12);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    for (let round = 0; round < ROUNDS; round++) {
      const { enabledAdmins } = await stored();
      const actors = await Promise.all(
        pool.filter((account) => enabledAdmins.includes(account.id)).map(async (account) => (await login(apis[0]!.url, account.email)).accessToken),
      );
      const changes = Array.from({ length: MUTATIONS_PER_ROUND }, (_, i) => {
        const url = apis[i % 2]!.url;
        const token = pick(actors);
        const target = pick(pool).id;
        switch (pick(["disable", "enable", "promote", "demote"] as const)) {
          case "disable":
            return send(url, SetUserDisabledDocument, { userId: target, disabled: true }, { token });
          case "enable":
            return send(url, SetUserDisabledDocument, { userId: target, disabled: false }, { token });
          case "promote":
            return send(url, SetUserRolesDocument, { userId: target, roles: ["USER", "ADMIN"] }, { token });
          case "demote":
            return send(url, SetUserRolesDocument, { userId: target, roles: ["USER"] }, { token });
        }
      });
      for (const result of await Promise.all(changes)) {
        // A refusal is fine (LAST_ADMIN, or an actor who lost ADMIN mid-round); a fault is not.
        if (result.error) expect(["BAD_USER_INPUT", "FORBIDDEN", "UNAUTHENTICATED"]).toContain(result.error.code);
      }
      const after = await stored();
      expect({ round, index: after.index }).toEqual({ round, index: after.enabledAdmins });
      expect(after.enabledAdmins.length).toBeGreaterThanOrEqual(1);
      // And one of them can still act as admin, through either instance.
      const survivor = pool.find((account) => account.id === after.enabledAdmins[0])!;
      const token = (await login(apis[1]!.url, survivor.email)).accessToken;
      expect((await send(apis[round % 2]!.url, UsersDocument, {}, { token })).data?.users.totalCount).toBeGreaterThanOrEqual(POOL);
    }
  }, 240_000);
});
