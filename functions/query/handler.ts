// Lambda entry for the read and group-management routes (and 404 / 405 for unknown ones).
import { Logger } from '@aws-lambda-powertools/logger';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { flagEnv, requireEnv } from '#adapters/config.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { createQueryStore } from '#adapters/query-store.ts';
import { createRepository } from '#adapters/repository.ts';
import { secretsFromEnvironment } from '#adapters/secrets.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { createQueryHandler } from './routes.ts';

const tableName = requireEnv('TABLE_NAME');
const doc = documentClient(createDynamoClient());

export const handler = createQueryHandler({
  repo: createRepository(doc, tableName),
  groups: createGroupStore(doc, tableName),
  reads: createQueryStore(doc, tableName),
  catalogue: SHIPPED_CATALOGUE,
  nowMs: Date.now,
  secrets: secretsFromEnvironment(),
  logger: new Logger({ serviceName: 'keywatch' }),
  pathArrivesDecoded: flagEnv('API_PATH_DECODED'),
});
