import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The browser tests run with `npm run test:ui` (test/ui/vitest.config.ts): npm test needs no browser.
    exclude: [...configDefaults.exclude, 'test/ui/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/file-dynamo.ts'],
    pool: 'forks',
    // Test files share their worker process and its module cache instead of a fresh one each: the
    // suite took 314 s with a process per file (about 0.7 s of imports for each of 66 files) and
    // 210 s without. Each file still gets its own DynamoDB Local (test/helpers/dynamo.ts) and its own
    // tables; a file that mocks a module imports what uses it afresh (test/unit/ingest-key.test.ts).
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
