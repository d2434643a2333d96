// What both API functions build from their environment at cold start: the table, a logger, and the
// credentials the shared HTTP chain checks (admin secrets, ingest keys with their cache).
import { Logger } from '@aws-lambda-powertools/logger';
import { createDynamoClient, documentClient } from './clients.ts';
import { flagEnv, requireEnv } from './config.ts';
import { ingestKeysFromEnvironment } from './ingest-key-store.ts';
import { secretsFromEnvironment } from './secrets.ts';

export function apiEnvironment() {
  const tableName = requireEnv('TABLE_NAME');
  const doc = documentClient(createDynamoClient());
  const logger = new Logger({ serviceName: 'keywatch' });
  const keys = ingestKeysFromEnvironment(doc, tableName, (error) =>
    logger.warn('could not record key use', { error: error as Error }),
  );
  return {
    tableName,
    doc,
    keyStore: keys.store,
    /** Spread into a handler factory's deps. */
    credentials: {
      secrets: secretsFromEnvironment(),
      ingestKeys: keys.cached,
      logger,
      pathArrivesDecoded: flagEnv('API_PATH_DECODED'),
    },
  };
}
