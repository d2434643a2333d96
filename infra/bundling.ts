// How every Lambda bundle is built; shared by the function construct and the bundles benchmark, so
// the benchmark measures exactly what is deployed.
import { fileURLToPath } from 'node:url';

/**
 * ESM output has no `require`, but CommonJS code that esbuild inlines may still call it for Node
 * built-ins. The alias avoids clashing with a bundled `createRequire`.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __keywatchCreateRequire } from 'node:module'; const require = __keywatchCreateRequire(import.meta.url);";

/** Left out of the bundle: the nodejs24.x runtime provides the AWS SDK v3. */
export const EXTERNAL_MODULES = ['@aws-sdk/*', '@smithy/*'];

/**
 * Import aliases, each a module that loads the real one through require: `node:http` (see
 * bundling/node-http.ts; query init 1.41x -> 1.15-1.32x), and the Secrets Manager client, which only
 * lazily imported code uses (bundling/secrets-manager.ts; decisions §16).
 */
export const ALIASES: Readonly<Record<string, string>> = {
  'node:http': fileURLToPath(new URL('./bundling/node-http.ts', import.meta.url)),
  '@aws-sdk/client-secrets-manager': fileURLToPath(new URL('./bundling/secrets-manager.ts', import.meta.url)),
};
