// Lambda entry for status reports and RMM webhooks.
import { Logger } from '@aws-lambda-powertools/logger';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { flagEnv, requireEnv } from '#adapters/config.ts';
import { ingestKeysFromEnvironment } from '#adapters/ingest-key-store.ts';
import { createRepository } from '#adapters/repository.ts';
import { secretsFromEnvironment } from '#adapters/secrets.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { createIngestHandler } from './routes.ts';

const tableName = requireEnv('TABLE_NAME');
const doc = documentClient(createDynamoClient());
const logger = new Logger({ serviceName: 'keywatch' });
const keys = ingestKeysFromEnvironment(doc, tableName, (error) =>
  logger.warn('could not record key use', { error: error as Error }),
);

export const handler = createIngestHandler({
  repo: createRepository(doc, tableName),
  catalogue: SHIPPED_CATALOGUE,
  secrets: secretsFromEnvironment(),
  ingestKeys: keys.cached,
  logger,
  pathArrivesDecoded: flagEnv('API_PATH_DECODED'),
});
