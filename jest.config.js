/**
 * Three lanes, each a Jest project (`npm test` runs all three; `npx jest --selectProjects <name>` one):
 * - fast: pure functions, the store contract on the memory store, and the domain services composed
 *   on it (test/domain). No redis-server, no HTTP, no build: `npm run test:fast`, seconds.
 * - integration: the real server over HTTP on a single redis-server (and the embedded store).
 * - topology: what needs several processes: Redis Cluster, Sentinel, failover, WORKERS, browsers.
 */

// Lanes are paths, as regular expressions on a test file's absolute path.
/**
 * The store contract's suites on the memory store, however the contract is split:
 * test/contract/memory-store.test.ts today, test/contract/<port>/memory….test.ts and the like.
 */
const CONTRACT_ON_MEMORY = "/test/contract/(.*/)?[^/]*memory[^/]*\\.test\\.ts$";
const FAST = ["/test/unit/.*\\.test\\.ts$", "/test/domain/.*\\.test\\.ts$", CONTRACT_ON_MEMORY];
const TOPOLOGY = [
  "/test/e2e/.*\\.test\\.ts$",
  "/test/integration/(cluster-failover|sentinel-failover|live-cluster|live-sentinel|live-workers|workers|multi-instance|directory-copy)\\.test\\.ts$",
];

/** What every lane shares. */
const common = {
  testEnvironment: "node",
  roots: ["<rootDir>/test", "<rootDir>/packages", "<rootDir>/examples"],
  // Workspace packages run from their source in tests; `npm run build` compiles them to dist/.
  moduleNameMapper: {
    "^@revocable-auth/verifier$": "<rootDir>/packages/verifier/src/index.ts",
    "^@revocable-auth/verifier/internal$": "<rootDir>/packages/verifier/src/internal.ts",
    "^@revocable-auth/client$": "<rootDir>/packages/client/src/index.ts",
    "^@revocable-auth/client/(urql|apollo|graphql-ws)$": "<rootDir>/packages/client/src/$1.ts",
    // The client package is ESM, whose relative imports name the compiled file: ./api.js is ./api.ts here.
    "^(\\.{1,2}/.*)\\.js$": "$1",
  },
  transform: {
    "^.+/packages/client/.+\\.ts$": "<rootDir>/packages/client/test/transform.cjs",
    "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.test.json" }],
    "/node_modules/(openid-client|oauth4webapi|jose|dpop|oidc-provider)/.+\\.js$": "<rootDir>/test/support/esm-transform.cjs",
  },
  // openid-client, jose, dpop and oidc-provider ship ESM only: compiled to CommonJS like our own files (test/support/esm-transform.cjs).
  transformIgnorePatterns: ["/node_modules/(?!(openid-client|oauth4webapi|jose|dpop|oidc-provider)/)"],
};

/** The lanes that run dist/ and the example service in their own processes build them first (once, however many lanes run). */
const BUILDS = "<rootDir>/test/support/global-setup-builds.ts";

/** @type {import('jest').Config} */
module.exports = {
  // The lanes' files run in one pool of workers, the longest first (test/support/sequencer.js).
  projects: [
    { ...common, displayName: "topology", roots: ["<rootDir>/test"], testRegex: TOPOLOGY, globalSetup: BUILDS },
    {
      ...common,
      displayName: "integration",
      testMatch: ["**/*.test.ts"],
      testPathIgnorePatterns: ["/node_modules/", ...FAST, ...TOPOLOGY],
      globalSetup: BUILDS,
    },
    { ...common, displayName: "fast", roots: ["<rootDir>/test"], testRegex: FAST },
  ],
  // Once for every lane: the workers' port folder and Node's bytecode cache for the processes tests start.
  globalSetup: "<rootDir>/test/support/global-setup.ts",
  globalTeardown: "<rootDir>/test/support/global-teardown.ts",
  testSequencer: "<rootDir>/test/support/sequencer.js",
  testTimeout: 30_000,
  // Two cores: two workers. Three were faster (Jest ~282 s against ~350 s on a quiet machine), but
  // the Sentinel suites, whose STORE_TIMEOUT_MS is 500 ms, then timed out on a loaded core in two
  // fresh-clone runs out of eleven: speed is not worth a flaky CI. Each test file starts its own redis-server.
  maxWorkers: 2,
};
