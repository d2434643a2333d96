// Lambda entry for the admin routes: reads, groups, company and site upserts, ingest keys (and
// 404 / 405 for unknown routes).
import { Logger } from '@aws-lambda-powertools/logger';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { flagEnv, requireEnv } from '#adapters/config.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { ingestKeysFromEnvironment } from '#adapters/ingest-key-store.ts';
import { createQueryStore } from '#adapters/query-store.ts';
import { createRepository } from '#adapters/repository.ts';
import { secretsFromEnvironment } from '#adapters/secrets.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { createAdminHandler } from './routes.ts';

const tableName = requireEnv('TABLE_NAME');
const doc = documentClient(createDynamoClient());
const logger = new Logger({ serviceName: 'keywatch' });
const keys = ingestKeysFromEnvironment(doc, tableName, (error) =>
  logger.warn('could not record key use', { error: error as Error }),
);

export const handler = createAdminHandler({
  repo: createRepository(doc, tableName),
  groups: createGroupStore(doc, tableName),
  reads: createQueryStore(doc, tableName),
  catalogue: SHIPPED_CATALOGUE,
  keys: keys.store,
  ingestKeys: keys.cached,
  nowMs: Date.now,
  secrets: secretsFromEnvironment(),
  logger,
  pathArrivesDecoded: flagEnv('API_PATH_DECODED'),
});
