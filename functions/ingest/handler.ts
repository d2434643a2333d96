// Lambda entry for the write routes: endpoint status reports and company / site upserts.
import { Logger } from '@aws-lambda-powertools/logger';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { flagEnv, requireEnv } from '#adapters/config.ts';
import { createRepository } from '#adapters/repository.ts';
import { secretsFromEnvironment } from '#adapters/secrets.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { createIngestHandler } from './routes.ts';

export const handler = createIngestHandler({
  repo: createRepository(documentClient(createDynamoClient()), requireEnv('TABLE_NAME')),
  catalogue: SHIPPED_CATALOGUE,
  secrets: secretsFromEnvironment(),
  logger: new Logger({ serviceName: 'keywatch' }),
  pathArrivesDecoded: flagEnv('API_PATH_DECODED'),
});
