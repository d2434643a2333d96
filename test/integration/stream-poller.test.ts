import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVALUATE_FILTERS, NOTIFY_FILTERS } from '#adapters/stream-filters.ts';
import { type StreamConsumer, type StreamPoller, startStreamPoller } from '#local/stream-poller.ts';
import { freshStreamTable } from '#test/helpers/dynamo.ts';

let client: DynamoDBClient;
let tableName: string;
let streams: DynamoDBStreamsClient;
let streamArn: string;
let poller: StreamPoller | undefined;
const logs: string[] = [];

beforeEach(async () => {
  ({ client, tableName, streams, streamArn } = await freshStreamTable());
  logs.length = 0;
});

afterEach(async () => {
  await poller?.stop();
  poller = undefined;
  streams.destroy();
});

function start(consumers: StreamConsumer[]): StreamPoller {
  poller = startStreamPoller({
    client: streams,
    tableStreamArn: streamArn,
    consumers,
    pollIntervalMs: 50,
    retryBackoffMs: 5,
    log: (message) => logs.push(message),
  });
  return poller;
}

/** A consumer that records every batch it is given and answers with `answer`. */
function recorder(
  name: string,
  options: Partial<StreamConsumer> & {
    answer?: (event: DynamoDBStreamEvent, call: number) => Promise<DynamoDBBatchResponse | undefined>;
  } = {},
) {
  const batches: DynamoDBRecord[][] = [];
  const consumer: StreamConsumer = {
    name,
    batchSize: 100,
    ...options,
    handler: async (event) => {
      batches.push(event.Records);
      return options.answer?.(event, batches.length);
    },
  };
  return { consumer, batches, ids: () => batches.flat().map(idOf) };
}

async function put(
  id: string,
  item: Record<string, string | boolean> = { type: 'ENDPOINT', writer: 'ingest' },
) {
  await client.send(
    new PutItemCommand({
      TableName: tableName,
      Item: {
        PK: { S: `ITEM#${id}` },
        SK: { S: 'ITEM' },
        id: { S: id },
        ...Object.fromEntries(
          Object.entries(item).map(([k, v]) => [k, typeof v === 'boolean' ? { BOOL: v } : { S: v }]),
        ),
      },
    }),
  );
}

const idOf = (r: DynamoDBRecord) => r.dynamodb?.NewImage?.id?.S ?? r.dynamodb?.OldImage?.id?.S;
const seqOf = (r: DynamoDBRecord) => r.dynamodb?.SequenceNumber ?? '';

describe('startStreamPoller', () => {
  it('delivers writes in order as Lambda-shaped DynamoDB stream events', async () => {
    const { consumer, batches, ids } = recorder('all');
    const p = start([consumer]);
    for (const id of ['a', 'b', 'c']) await put(id);
    await put('a', { type: 'ENDPOINT', writer: 'ingest', hostname: 'LAPTOP-1' });
    await p.drained();

    expect(ids()).toEqual(['a', 'b', 'c', 'a']);
    const records = batches.flat();
    expect(records[0]).toEqual({
      eventID: expect.any(String),
      eventName: 'INSERT',
      eventVersion: expect.any(String),
      eventSource: 'aws:dynamodb',
      awsRegion: expect.any(String),
      eventSourceARN: streamArn,
      dynamodb: {
        ApproximateCreationDateTime: expect.any(Number),
        Keys: { PK: { S: 'ITEM#a' }, SK: { S: 'ITEM' } },
        NewImage: {
          PK: { S: 'ITEM#a' },
          SK: { S: 'ITEM' },
          id: { S: 'a' },
          type: { S: 'ENDPOINT' },
          writer: { S: 'ingest' },
        },
        SequenceNumber: expect.any(String),
        SizeBytes: expect.any(Number),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    const modify = records[3];
    expect(modify?.eventName).toBe('MODIFY');
    expect(modify?.dynamodb?.OldImage?.hostname).toBeUndefined();
    expect(modify?.dynamodb?.NewImage?.hostname).toEqual({ S: 'LAPTOP-1' });
    const seqs = records.map((r) => BigInt(seqOf(r)));
    expect([...seqs].sort((x, y) => (x < y ? -1 : 1))).toEqual(seqs);
  });

  it('gives each consumer only the records its filter patterns match', async () => {
    const evaluate = recorder('evaluate', { filters: EVALUATE_FILTERS });
    const notify = recorder('notify', { filters: NOTIFY_FILTERS });
    const p = start([evaluate.consumer, notify.consumer]);
    await put('e1', { type: 'ENDPOINT', writer: 'ingest' });
    await put('e2', { type: 'ENDPOINT', writer: 'evaluate' });
    await put('t1', { type: 'TRANSITION', alert: true });
    await put('t2', { type: 'TRANSITION', alert: false });
    await put('c1', { type: 'COMPANY' });
    await p.drained();

    expect(evaluate.ids()).toEqual(['e1', 'c1']);
    expect(notify.ids()).toEqual(['t1']);
  });

  it('resolves drained() only after records written by one consumer reached the others', async () => {
    const downstream = recorder('downstream', {
      filters: [{ dynamodb: { NewImage: { type: { S: ['OUT'] } } } }],
    });
    const upstream = recorder('upstream', {
      filters: [{ dynamodb: { NewImage: { type: { S: ['IN'] } } } }],
      answer: async (event) => {
        // Slow enough that the downstream consumer polls (empty) while this write is pending.
        await new Promise((resolve) => setTimeout(resolve, 200));
        for (const r of event.Records) await put(`out-${idOf(r)}`, { type: 'OUT' });
        return undefined;
      },
    });
    const p = start([downstream.consumer, upstream.consumer]);
    await put('x', { type: 'IN' });
    await p.drained();

    expect(downstream.ids()).toEqual(['out-x']);
  });

  it('counts invocations and delivered records', async () => {
    for (const id of ['1', '2']) await put(id);
    const { consumer } = recorder('counted', { batchSize: 1 });
    const p = start([consumer]);
    await p.drained();

    const stats = p.stats();
    expect(stats.shards).toBeGreaterThanOrEqual(1);
    expect(stats.consumers.counted).toEqual({
      invocations: 2,
      recordsDelivered: 2,
      failedInvocations: 0,
      batchesGivenUp: 0,
    });
    expect(logs).toEqual([]);
  });
});

describe('startStreamPoller with shards that close and split', () => {
  it('discovers shards across DescribeStream pages and reads a parent to its end before its children', async () => {
    // DynamoDB Local seldom rolls shards over, so the stream API is simulated here.
    const simulated = new DynamoDBStreamsClient({ region: 'local' });
    const mock = mockClient(simulated);
    const calls: string[] = [];
    const rec = (id: string, seq: string) => ({
      eventID: id,
      eventName: 'INSERT' as const,
      dynamodb: { Keys: { PK: { S: id } }, NewImage: { id: { S: id } }, SequenceNumber: seq },
    });
    mock.on(DescribeStreamCommand).callsFake((input: { ExclusiveStartShardId?: string }) =>
      input.ExclusiveStartShardId === undefined
        ? {
            StreamDescription: {
              Shards: [{ ShardId: 'child-a', ParentShardId: 'parent' }],
              LastEvaluatedShardId: 'child-a',
            },
          }
        : {
            StreamDescription: {
              Shards: [{ ShardId: 'parent' }, { ShardId: 'child-b', ParentShardId: 'parent' }],
            },
          },
    );
    mock
      .on(GetShardIteratorCommand)
      .callsFake((input: { ShardId: string }) => ({ ShardIterator: `${input.ShardId}#0` }));
    const pages: Record<string, { Records: ReturnType<typeof rec>[]; NextShardIterator?: string }> = {
      'parent#0': { Records: [rec('p1', '1'), rec('p2', '2')], NextShardIterator: 'parent#1' },
      'parent#1': { Records: [] }, // closed: no next iterator
      'child-a#0': { Records: [rec('a1', '3')], NextShardIterator: 'child-a#1' },
      'child-a#1': { Records: [], NextShardIterator: 'child-a#1' },
      'child-b#0': { Records: [rec('b1', '4')], NextShardIterator: 'child-b#1' },
      'child-b#1': { Records: [], NextShardIterator: 'child-b#1' },
    };
    mock.on(GetRecordsCommand).callsFake((input: { ShardIterator: string }) => {
      calls.push(input.ShardIterator);
      return pages[input.ShardIterator];
    });
    const { consumer, ids } = recorder('lineage');
    const p = startStreamPoller({
      client: simulated,
      tableStreamArn: 'arn:aws:dynamodb:eu-west-1:000000000000:table/t/stream/x',
      consumers: [consumer],
      pollIntervalMs: 10,
      log: (message) => logs.push(message),
    });
    await p.drained();
    await p.stop();

    expect(ids().slice(0, 2)).toEqual(['p1', 'p2']);
    expect(ids().slice(2).sort()).toEqual(['a1', 'b1']);
    const parentClosedAt = calls.indexOf('parent#1');
    expect(calls.findIndex((c) => c.startsWith('child'))).toBeGreaterThan(parentClosedAt);
    expect(p.stats().shards).toBe(3);
    expect(logs).toEqual([]);
  });
});
