/**
 * Consumer tests: the packed tarball installed into small apps (consumers/apps),
 * each type-checked by its own tsc and run against DynamoDB Local.
 * Run with `npm run test:consumers` (packs first, see consumers/README.md).
 * @type {import('jest').Config}
 */
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/consumers'],
  testMatch: ['**/consumers/*.spec.ts'],
  modulePathIgnorePatterns: ['<rootDir>/consumers/apps/'],
  transform: { '^.+\\.ts$': '@swc/jest' },
  globalSetup: '<rootDir>/spec/support/global-setup.ts',
  globalTeardown: '<rootDir>/spec/support/global-teardown.ts',
  testTimeout: 420000, // under CI's 600 s bound on the step, so a slow run still reports which app
};
