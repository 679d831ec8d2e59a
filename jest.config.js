/**
 * Every spec runs in the `single` project; the integration specs run again in the `split`
 * project, on tables with the split item layout (spec/support/layout.ts). The sample app,
 * docs and tools specs do not depend on the layout the specs choose, so they run once.
 */
const shared = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  transform: { '^.+\\.ts$': '@swc/jest' },
  moduleNameMapper: {
    '^dynamo-session$': '<rootDir>/lib/index.ts',
    '^dynamo-session/(.*)$': '<rootDir>/lib/$1/index.ts',
  },
};

/** @type {import('jest').Config} */
module.exports = {
  globalSetup: '<rootDir>/spec/support/global-setup.ts',
  globalTeardown: '<rootDir>/spec/support/global-teardown.ts',
  testTimeout: 30000,
  projects: [
    { ...shared, displayName: 'single', testMatch: ['**/*.spec.ts'], setupFiles: ['<rootDir>/spec/support/layout-single.ts'] },
    {
      ...shared,
      displayName: 'split',
      testMatch: ['**/*.integ.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/spec/sample-app/', '<rootDir>/spec/docs/', '<rootDir>/spec/tools/'],
      setupFiles: ['<rootDir>/spec/support/layout-split.ts'],
    },
  ],
};
