// The mfa suite again, with the directory in Postgres beside its Redis (test/support/directory.ts).
import "../support/on-postgres";
import "./mfa.test";
