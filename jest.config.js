/** Jest runs the TypeScript sources directly through ts-jest. */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: '<rootDir>/test/environment.js',
  roots: ['<rootDir>/test'],
  testTimeout: 120000,
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true } }] },
};
