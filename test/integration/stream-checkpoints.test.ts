// The local poller's checkpoints: a restarted `npm start` with KEYWATCH_DATA_DIR resumes each consumer
// after the last page it handled instead of replaying the stream from the trim horizon.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CheckpointStore, fileCheckpoints } from '#local/stream-checkpoints.ts';
import { startStreamPoller } from '#local/stream-poller.ts';
import { freshStreamTable } from '#test/helpers/dynamo.ts';

let client: DynamoDBClient;
let tableName: string;
let streams: DynamoDBStreamsClient;
let streamArn: string;
let dir: string;

beforeEach(async () => {
  ({ client, tableName, streams, streamArn } = await freshStreamTable());
  dir = await mkdtemp(join(tmpdir(), 'keywatch-checkpoints-'));
});

afterEach(async () => {
  streams.destroy();
  await rm(dir, { recursive: true, force: true });
});

async function put(id: string) {
  await client.send(
    new PutItemCommand({
      TableName: tableName,
      Item: { PK: { S: `ITEM#${id}` }, SK: { S: 'ITEM' }, id: { S: id } },
    }),
  );
}

/** Runs a poller until it has delivered everything written so far; returns the ids it was given. */
async function pollOnce(checkpoints: CheckpointStore | undefined): Promise<string[]> {
  const seen: string[] = [];
  const poller = startStreamPoller({
    client: streams,
    tableStreamArn: streamArn,
    pollIntervalMs: 50,
    ...(checkpoints ? { checkpoints } : {}),
    consumers: [
      {
        name: 'evaluate',
        batchSize: 100,
        handler: async (event) => {
          seen.push(...event.Records.map((r: DynamoDBRecord) => r.dynamodb?.NewImage?.id?.S ?? '?'));
        },
      },
    ],
    log: () => {},
  });
  await poller.drained();
  await poller.stop();
  return seen;
}

describe('stream checkpoints', () => {
  it('resume a restarted poller after the records it handled', async () => {
    const file = join(dir, 'stream-checkpoints.json');
    await put('a');
    await put('b');
    expect(await pollOnce(fileCheckpoints(file, streamArn))).toEqual(['a', 'b']);
    await put('c');

    // A new process reads the file again: only what was written since is delivered.
    expect(await pollOnce(fileCheckpoints(file, streamArn))).toEqual(['c']);
  });

  it('are what stops the replay: without them a restart starts at the trim horizon again', async () => {
    await put('a');
    expect(await pollOnce(undefined)).toEqual(['a']);
    expect(await pollOnce(undefined)).toEqual(['a']);
  });

  it('of another stream (a table created again) are ignored', async () => {
    const file = join(dir, 'stream-checkpoints.json');
    await put('a');
    const other = fileCheckpoints(file, `${streamArn}-old`);
    other.save('evaluate', 'shardId-anything', '99999999999999999999');
    expect(fileCheckpoints(file, streamArn).get('evaluate', 'shardId-anything')).toBeUndefined();
    expect(await pollOnce(fileCheckpoints(file, streamArn))).toEqual(['a']);
  });
});
