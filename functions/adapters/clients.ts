// SDK clients, created once per process at module scope. DYNAMODB_ENDPOINT points them at DynamoDB
// Local; on Lambda it is unset and the SDK resolves the regional endpoint. The SDK's own retry
// strategy (standard, 3 attempts with jitter) is kept.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { optionalEnv } from './config.ts';

export function createDynamoClient(endpoint = optionalEnv('DYNAMODB_ENDPOINT')): DynamoDBClient {
  return new DynamoDBClient(
    endpoint === undefined
      ? {}
      : {
          endpoint,
          region: optionalEnv('AWS_REGION') ?? 'local',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        },
  );
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}
