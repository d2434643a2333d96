// Each test file's own DynamoDB Local (leased on first use, stopped after the file) and uniquely named
// tables on it. One JVM shared by the whole run slowed down as the run went on (its in-memory engine
// keeps every table's and stream's data): evaluate.test.ts took 15 s alone but 68 s late in a full run,
// and the run 410 s. A JVM per file costs about 3 s of start-up, which the global setup's pool
// (dynamo-pool.ts) spends ahead of the file; outside vitest's run (no pool) the file starts its own.
import { randomBytes } from 'node:crypto';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { inject } from 'vitest';
import { createDynamoClient } from '#adapters/clients.ts';
import { createTable } from '#local/create-table.ts';
import { type DynamoDbLocal, startDynamoDbLocal, TEST_JVM_OPTIONS } from '#local/dynamodb-local.ts';
import { leaseFromPool } from './dynamo-pool.ts';

let local: Promise<DynamoDbLocal> | undefined;

/** This test file's DynamoDB Local endpoint, starting it on first use. */
export async function dynamoEndpoint(): Promise<string> {
  const pool = inject('dynamoPool');
  local ??= pool === undefined ? startDynamoDbLocal({ jvmOptions: TEST_JVM_OPTIONS }) : leaseFromPool(pool);
  return (await local).endpoint;
}

/** Stops this file's DynamoDB Local, if it started one (test/helpers/file-dynamo.ts, after the file). */
export async function stopFileDynamo(): Promise<void> {
  const started = local;
  local = undefined;
  if (started !== undefined) await (await started).stop();
}

export async function freshTable(): Promise<{ client: DynamoDBClient; tableName: string; endpoint: string }> {
  const endpoint = await dynamoEndpoint();
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
