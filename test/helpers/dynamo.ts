// A uniquely named table on the run's shared DynamoDB Local, so test files never see each other's data.
import { randomBytes } from 'node:crypto';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
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

/** A fresh table with a Streams client pointed at the same DynamoDB Local, and the table's stream. */
export async function freshStreamTable() {
  const table = await freshTable();
  const streams = new DynamoDBStreamsClient({
    endpoint: table.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const described = await table.client.send(new DescribeTableCommand({ TableName: table.tableName }));
  const streamArn = described.Table?.LatestStreamArn;
  if (streamArn === undefined) throw new Error(`table ${table.tableName} has no stream`);
  return { ...table, streams, streamArn };
}
