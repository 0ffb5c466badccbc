import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: image work is CPU-bound, so more workers only thrash.
    maxWorkers: 2,
    // A test that fails once and passes on its retry is named at the end of the run, with the
    // first try's error (test/support/flaky-reporter.ts): seen, to be fixed, without turning a
    // loaded CI machine's run red. A test that fails twice fails the run.
    retry: 1,
    reporters: ['default', './test/support/flaky-reporter.ts'],
  },
});
