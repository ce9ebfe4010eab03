import { Client } from "pg";
import { startPostgres, type TestPostgres } from "../support/postgres";

/** The test support the Postgres suites stand on: later failure tests stop, crash and freeze this server. */
let postgres: TestPostgres;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(() => postgres?.destroy());

describe("a test Postgres server", () => {
  it("answers on 127.0.0.1 as the postgres superuser, and makes a database per caller", async () => {
    expect(postgres.url).toBe(`postgres://postgres@127.0.0.1:${postgres.port}/postgres`);
    const url = await postgres.createDatabase("server test");
    expect(url).toMatch(new RegExp(`^postgres://postgres@127\\.0\\.0\\.1:${postgres.port}/server_test_\\d+$`));
    const [row] = await postgres.query<{ database: string; superuser: string }>("SELECT current_database() AS database, current_setting('is_superuser') AS superuser", [], url.split("/").at(-1));
    expect(row).toEqual({ database: url.split("/").at(-1), superuser: "on" });
  });

  it("keeps committed rows across a clean stop and a crash, on the same port and data directory", async () => {
    const url = await postgres.createDatabase("restarts");
    const database = url.split("/").at(-1)!;
    await postgres.query("CREATE TABLE kept (n integer)", [], database);
    await postgres.query("INSERT INTO kept VALUES (1)", [], database);
    await postgres.stop();
    await expect(postgres.query("SELECT 1", [], database)).rejects.toThrow(/ECONNREFUSED/);
    await postgres.start();
    await postgres.query("INSERT INTO kept VALUES (2)", [], database);
    await postgres.kill();
    await postgres.start();
    expect(await postgres.query("SELECT n FROM kept ORDER BY n", [], database)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it("ends the sessions of a client when it crashes, and that client's next query fails rather than hangs", async () => {
    const client = new Client({ connectionString: postgres.url });
    client.on("error", () => undefined);
    await client.connect();
    await postgres.kill();
    await expect(client.query("SELECT 1")).rejects.toThrow();
    await client.end().catch(() => undefined);
    await postgres.start();
  });

  it("freezes and thaws: a paused server accepts nothing until resumed", async () => {
    postgres.pause();
    const client = new Client({ connectionString: postgres.url, connectionTimeoutMillis: 500 });
    client.on("error", () => undefined);
    await expect(client.connect()).rejects.toThrow(/timeout/i);
    postgres.resume();
    expect(await postgres.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
  });
});
