// Stand-in for `@aws-sdk/client-secrets-manager` in Lambda bundles (aliased by infra/bundling.ts).
// The SDK is external (the runtime provides it), and esbuild writes every static import of an external
// module at the top of the ESM bundle, where it loads at init even when only code imported with
// `await import()` uses it (Powertools parameters, loaded on the first admin-signed request). Loaded
// through require, it waits until this module is evaluated, that is, until that first use.
import { createRequire } from 'node:module';

const sdk: typeof import('@aws-sdk/client-secrets-manager') = createRequire(import.meta.url)(
  '@aws-sdk/client-secrets-manager',
);

// What Powertools parameters' SecretsProvider imports.
export const { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } = sdk;
