// `npm run test:ui`: the status page in headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM),
// against the `npm start` wiring. Separate from `npm test`, which needs no browser; `.ci/run` runs both.
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: join(import.meta.dirname, '..', '..'),
  test: {
    include: ['test/ui/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/file-dynamo.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
