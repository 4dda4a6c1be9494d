import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real Envoy and servers; on 2 cores keep files from fighting for CPU.
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
  },
});
