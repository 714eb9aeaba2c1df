/** Jest runs the TypeScript sources directly through ts-jest. */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: '<rootDir>/test/environment.js',
  // Builds dist/ once: the tests that spawn `node dist/cli.js` must run the current sources.
  globalSetup: '<rootDir>/test/global-setup.js',
  roots: ['<rootDir>/test'],
  testTimeout: 120000,
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true } }] },
};
