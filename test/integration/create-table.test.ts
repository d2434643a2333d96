// The local table creator: a table kept in a data directory from before an index existed gets it.
import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDynamoClient } from '#adapters/clients.ts';
import { INDEX, TABLE_SCHEMA } from '#adapters/keys.ts';
import { createTable } from '#local/create-table.ts';
import { dynamoEndpoint } from '#test/helpers/dynamo.ts';

describe('createTable', () => {
  it('adds the indexes an existing table lacks (the due index to a table made before it)', async () => {
    const client = createDynamoClient(await dynamoEndpoint());
    const tableName = `t-${randomBytes(6).toString('hex')}`;
    const older = TABLE_SCHEMA.indexes.filter((i) => i.name !== INDEX.due);
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['PK', 'SK', ...older.flatMap((i) => [i.partitionKey, i.sortKey])].map((n) => ({
          AttributeName: n,
          AttributeType: 'S',
        })),
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: older.map((i) => ({
          IndexName: i.name,
          KeySchema: [
            { AttributeName: i.partitionKey, KeyType: 'HASH' },
            { AttributeName: i.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: i.projection },
        })),
      }),
    );
    await createTable(client, tableName);
    const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const due = described.Table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === INDEX.due);
    expect(due?.Projection?.ProjectionType).toBe('KEYS_ONLY');
    expect(described.Table?.GlobalSecondaryIndexes).toHaveLength(TABLE_SCHEMA.indexes.length);
  });
});
