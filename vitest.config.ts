import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One private build of the CLI for the whole run, copied by the suites that run it as a user.
    globalSetup: ['test/global-setup.ts'],
    // Real local servers (kinesalite, s3rver) start per file; give them room on 2 noisy cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A process per file: suites start servers, mock modules (vi.mock) and set process.env.
    pool: 'forks',
    // vitest's default is one worker less than the cores: on CI's 2 cores that ran the 99 files one
    // after the other. Measured serially, the suite kept a core ~90% busy (user+sys 453 s of CPU in
    // ~500 s), so it is CPU-bound: one worker per core roughly halves the test phase, and a third
    // worker only adds contention (a wall-clock budget, results-exact's 300 MB line in 5 s, failed
    // with 3 workers under load). `vitest run --maxWorkers=1` still runs them one by one.
    maxWorkers: 2,
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      CDK_DISABLE_VERSION_CHECK: 'true',
      CDK_DISABLE_CLI_TELEMETRY: 'true',
    },
  },
});
