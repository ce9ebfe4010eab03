/** @type {import('jest').Config} */
module.exports = {
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
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+/packages/client/.+\\.ts$": "<rootDir>/packages/client/test/transform.cjs",
    "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.test.json" }],
    "/node_modules/(openid-client|oauth4webapi|jose)/.+\\.js$": "<rootDir>/test/support/esm-transform.cjs",
  },
  transformIgnorePatterns: ["/node_modules/(?!(openid-client|oauth4webapi|jose)/)"],
  globalSetup: "<rootDir>/test/support/global-setup.ts",
  globalTeardown: "<rootDir>/test/support/global-teardown.ts",
  testTimeout: 30_000,
  // Two cores: one worker per core; each test file starts its own redis-server.
  maxWorkers: 2,
};
