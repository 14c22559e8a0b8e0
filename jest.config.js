// ESM mode, as GitHub's own TypeScript actions run jest: ts-jest compiles, node's VM modules load.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json' }]
  },
  globalSetup: '<rootDir>/__tests__/support/global-setup.mjs',
  // No line of the suite's output may read as a workflow command on the CI runner.
  setupFiles: ['<rootDir>/__tests__/support/quiet-commands.mjs'],
  globalTeardown: '<rootDir>/__tests__/support/global-teardown.mjs',
  testTimeout: 60000,
  verbose: true
};
