/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test", "<rootDir>/packages", "<rootDir>/examples"],
  // Workspace packages run from their source in tests; `npm run build` compiles them to dist/.
  moduleNameMapper: { "^@revocable-auth/verifier$": "<rootDir>/packages/verifier/src/index.ts" },
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.test.json" }] },
  globalSetup: "<rootDir>/test/support/global-setup.ts",
  testTimeout: 30_000,
  // Two cores: one worker per core; each test file starts its own redis-server.
  maxWorkers: 2,
};
