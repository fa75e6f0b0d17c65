/** Tests are TypeScript, compiled per file by swc to CommonJS; `tsc` type-checks them in `pretest`. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 30000,
  maxWorkers: 2,
  // a worker that kept more than this after a test file is replaced: what earlier files left in its heap made the
  // CPU-bound scenario files that run late several times slower (full collections of a large old generation)
  workerIdleMemoryLimit: '768MB',
};
