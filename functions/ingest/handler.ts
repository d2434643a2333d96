// Lambda entry for status reports and RMM webhooks.
import { apiEnvironment } from '#adapters/api-environment.ts';
import { intEnv } from '#adapters/config.ts';
import { cachedCatalogue, createFieldStore, DEFAULT_FIELD_CACHE_MS } from '#adapters/field-store.ts';
import { createRepository } from '#adapters/repository.ts';
import { createIngestHandler } from './routes.ts';

const { tableName, doc, credentials } = apiEnvironment();

export const handler = createIngestHandler({
  repo: createRepository(doc, tableName),
  // One Query of the field catalogue per FIELD_CACHE_MS per instance, never one per update.
  catalogue: cachedCatalogue(createFieldStore(doc, tableName), {
    ttlMs: intEnv('FIELD_CACHE_MS', DEFAULT_FIELD_CACHE_MS),
    nowMs: Date.now,
  }),
  ...credentials,
});
