// Lambda entry for the admin routes: reads, groups, company and site upserts (and 404 / 405).
import { Logger } from '@aws-lambda-powertools/logger';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { flagEnv, requireEnv } from '#adapters/config.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { createQueryStore } from '#adapters/query-store.ts';
import { createRepository } from '#adapters/repository.ts';
import { secretsFromEnvironment } from '#adapters/secrets.ts';
import { createAdminHandler } from './routes.ts';

const tableName = requireEnv('TABLE_NAME');
const doc = documentClient(createDynamoClient());

export const handler = createAdminHandler({
  repo: createRepository(doc, tableName),
  groups: createGroupStore(doc, tableName),
  reads: createQueryStore(doc, tableName),
  nowMs: Date.now,
  secrets: secretsFromEnvironment(),
  logger: new Logger({ serviceName: 'keywatch' }),
  pathArrivesDecoded: flagEnv('API_PATH_DECODED'),
});
