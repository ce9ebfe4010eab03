import { runOnPostgres } from "./directory";

// Imported first by a suite's Postgres wrapper: see directory.ts.
runOnPostgres();
