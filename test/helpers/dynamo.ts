// A uniquely named table on the run's shared DynamoDB Local, so test files never see each other's data.
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { createDynamoClient } from '#adapters/clients.ts';
import { createTable } from '#local/create-table.ts';

export async function freshTable(): Promise<{ client: DynamoDBClient; tableName: string; endpoint: string }> {
  const endpoint = inject('dynamodbEndpoint');
  const client = createDynamoClient(endpoint);
  const tableName = `t-${randomBytes(6).toString('hex')}`;
  await createTable(client, tableName);
  return { client, tableName, endpoint };
}
