// Lambda entry for status reports and RMM webhooks.
import { apiEnvironment } from '#adapters/api-environment.ts';
import { createRepository } from '#adapters/repository.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { createIngestHandler } from './routes.ts';

const { tableName, doc, credentials } = apiEnvironment();

export const handler = createIngestHandler({
  repo: createRepository(doc, tableName),
  catalogue: SHIPPED_CATALOGUE,
  ...credentials,
});
