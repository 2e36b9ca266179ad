// Shared jest settings. Each project's jest.config.cjs (unit) and jest.int.config.cjs
// (integration, real Kafka/registry/PostgreSQL) call one of the helpers below.
const path = require('node:path');

const reporter = path.join(__dirname, 'tools/scripts/jest-results-reporter.cjs');

const base = (projectDir, kind) => ({
  displayName: path.relative(__dirname, projectDir),
  reporters: ['default', [reporter, { project: path.basename(projectDir), kind }]],
  rootDir: projectDir,
  testEnvironment: 'node',
  // Resolve @tideline/* packages to their TypeScript sources (see libs/*/package.json exports).
  testEnvironmentOptions: { customExportConditions: ['@tideline/source', 'node', 'require', 'default'] },
  transform: {
    // Transpile only (isolatedModules): `nx typecheck` checks types, jest just runs.
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(projectDir, 'tsconfig.json'), diagnostics: false }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  clearMocks: true,
});

/** Unit tests: `*.spec.ts`, no infrastructure. */
exports.unit = (projectDir) => ({
  ...base(projectDir, 'unit'),
  testMatch: ['<rootDir>/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '\\.int\\.spec\\.ts$', '/e2e/', '/faults/'],
});

/** Integration tests: `*.int.spec.ts` against the real stack, found or started by libs/testing. */
exports.integration = (projectDir) => ({
  ...base(projectDir, 'int'),
  testMatch: ['<rootDir>/**/*.int.spec.ts', '<rootDir>/e2e/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/faults/'],
  // Each test file gets a name scope of its own and, pass or fail, its topics, groups, subjects
  // and databases deleted after it (libs/testing/src/environment.ts).
  testEnvironment: path.join(__dirname, 'libs/testing/src/environment.ts'),
  globalSetup: path.join(__dirname, 'libs/testing/src/global-setup.ts'),
  globalTeardown: path.join(__dirname, 'libs/testing/src/global-teardown.ts'),
  testTimeout: 60_000,
  slowTestThreshold: 20,
});

/**
 * Fault scenarios: `faults/**\/*.spec.ts`, real processes under injected faults (brokers,
 * PostgreSQL, the registry or a connection killed, cut or slowed). `npm run test:faults`.
 */
exports.faults = (projectDir) => ({
  ...exports.integration(projectDir),
  // The integration settings (clean-up environment, global setup) with the faults' own results file.
  reporters: base(projectDir, 'faults').reporters,
  testMatch: ['<rootDir>/faults/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 300_000,
  slowTestThreshold: 60,
});
