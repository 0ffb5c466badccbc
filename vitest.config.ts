import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: image work is CPU-bound, so more workers only thrash.
    maxWorkers: 2,
  },
});
