// How the local stream poller hands a shard's records to a function: the event source mapping
// semantics (batches, partial batch responses, bisecting, retries, record age, parallel lanes).
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  type ConsumerStats,
  deliverRecords,
  type FailedBatch,
  type StreamConsumer,
} from '#local/stream-delivery.ts';
import { streamRecord } from '#test/helpers/stream.ts';

type Answer = (event: DynamoDBStreamEvent, call: number) => Promise<DynamoDBBatchResponse | undefined>;

/** A consumer that records every batch it is given (by record id) and answers with `answer`. */
function recorder(options: Partial<StreamConsumer> & { answer?: Answer } = {}) {
  const batches: string[][] = [];
  const consumer: StreamConsumer = {
    name: 'test',
    batchSize: 100,
    ...options,
    handler: async (event) => {
      batches.push(event.Records.map(idOf));
      return options.answer?.(event, batches.length);
    },
  };
  return { consumer, batches };
}

async function deliver(consumer: StreamConsumer, records: DynamoDBRecord[], retryFailedOnly = false) {
  const failures: FailedBatch[] = [];
  const stats: ConsumerStats = {
    invocations: 0,
    recordsDelivered: 0,
    failedInvocations: 0,
    batchesGivenUp: 0,
  };
  await deliverRecords(
    {
      consumer,
      shardId: 'shard-1',
      streamArn: 'arn:aws:dynamodb:local:000000000000:table/t/stream/x',
      partitionKey: 'PK',
      stats,
      running: () => true,
      backoff: async () => undefined,
      onFailedBatch: (f) => failures.push(f),
      retryFailedOnly,
    },
    records,
  );
  return { failures, stats };
}

/** Records 1..n; record i has sequence number i and, unless `pk` says otherwise, its own item. */
function records(n: number, pk: (i: number) => string = (i) => `ITEM#${i}`, createdAtSeconds?: number) {
  return Array.from({ length: n }, (_, k) =>
    streamRecord(
      'INSERT',
      { NewImage: { id: { S: String(k + 1) } } },
      { pk: pk(k + 1), seq: k + 1, ...(createdAtSeconds === undefined ? {} : { createdAtSeconds }) },
    ),
  );
}

const idOf = (r: DynamoDBRecord) => r.dynamodb?.NewImage?.id?.S ?? '?';
const failing = (ids: string[]) => (event: DynamoDBStreamEvent) =>
  Promise.resolve({
    batchItemFailures: event.Records.filter((r) => ids.includes(idOf(r))).map((r) => ({
      itemIdentifier: r.dynamodb?.SequenceNumber ?? '',
    })),
  });

describe('deliverRecords', () => {
  it('cuts the records into batches of at most batchSize, in order', async () => {
    const { consumer, batches } = recorder({ batchSize: 2 });

    await deliver(consumer, records(5));

    expect(batches).toEqual([['1', '2'], ['3', '4'], ['5']]);
  });

  it('delivers only the records the filter patterns match', async () => {
    const { consumer, batches } = recorder({ filters: [{ dynamodb: { NewImage: { id: { S: ['2'] } } } }] });

    await deliver(consumer, records(3));

    expect(batches).toEqual([['2']]);
  });

  it('retries a partially failed batch from the lowest failed record, like ReportBatchItemFailures', async () => {
    // Reports 4 and 3 (out of order): Lambda checkpoints before the lowest, 3.
    const answer: Answer = (event, call) =>
      call > 1 ? Promise.resolve(undefined) : failing(['4', '3'])(event);
    const { consumer, batches } = recorder({ answer, bisectBatchOnError: true });

    const { stats } = await deliver(consumer, records(5));

    expect(batches).toEqual([
      ['1', '2', '3', '4', '5'],
      ['3', '4', '5'],
    ]);
    expect(stats).toEqual({ invocations: 2, recordsDelivered: 5, failedInvocations: 1, batchesGivenUp: 0 });
  });

  it('retries only the records reported failed when asked to (the replay)', async () => {
    // 2 and 4 fail, then 4 keeps failing: 3 and 5 are not sent again, 2 is retried and done.
    const answer: Answer = (event, call) => failing(call === 1 ? ['4', '2'] : ['4'])(event);
    const { consumer, batches } = recorder({ answer, retryAttempts: 2 });

    const { stats, failures } = await deliver(consumer, records(5), true);

    expect(batches).toEqual([['1', '2', '3', '4', '5'], ['2', '4'], ['4']]);
    expect(failures.map((f) => f.records.map(idOf))).toEqual([['4']]);
    expect(stats).toEqual({ invocations: 3, recordsDelivered: 4, failedInvocations: 3, batchesGivenUp: 1 });
  });

  it('ignores batchItemFailures when partial batch responses are off, as Lambda does', async () => {
    const { consumer, batches } = recorder({ answer: failing(['1']), reportBatchItemFailures: false });

    await deliver(consumer, records(2));

    expect(batches).toEqual([['1', '2']]);
  });

  it('retries the whole batch when the handler throws or names an unknown record', async () => {
    const { consumer, batches } = recorder({
      answer: async (_event, call) => {
        if (call === 1) throw new Error('boom');
        if (call === 2) return { batchItemFailures: [{ itemIdentifier: 'not-a-sequence-number' }] };
        return undefined;
      },
    });

    await deliver(consumer, records(2));

    expect(batches).toEqual([
      ['1', '2'],
      ['1', '2'],
      ['1', '2'],
    ]);
  });

  it('gives a batch up after retryAttempts retries, reports it as the on-failure destination would, and moves on', async () => {
    const { consumer, batches } = recorder({
      batchSize: 1,
      retryAttempts: 2,
      answer: async (event) => {
        if (idOf(event.Records[0]!) === '2') throw new Error('poison record');
        return undefined;
      },
    });

    const { failures } = await deliver(consumer, records(3));

    expect(batches).toEqual([['1'], ['2'], ['2'], ['2'], ['3']]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      consumer: 'test',
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      DDBStreamBatchInfo: {
        shardId: 'shard-1',
        startSequenceNumber: '2',
        endSequenceNumber: '2',
        batchSize: 1,
      },
      error: 'Error: poison record',
    });
    expect(failures[0]?.records.map(idOf)).toEqual(['2']);
  });

  it('bisects a batch that crashes the function until the poisoned record is alone, and parks only that one', async () => {
    const { consumer, batches } = recorder({
      bisectBatchOnError: true,
      retryAttempts: 1,
      answer: async (event) => {
        if (event.Records.some((r) => idOf(r) === '3')) throw new Error('out of memory');
        return undefined;
      },
    });

    const { failures, stats } = await deliver(consumer, records(4));

    expect(batches).toEqual([['1', '2', '3', '4'], ['1', '2'], ['3', '4'], ['3'], ['3'], ['4']]);
    expect(failures.map((f) => f.records.map(idOf))).toEqual([['3']]);
    expect(failures[0]?.requestContext.approximateInvokeCount).toBe(2);
    expect(stats.recordsDelivered).toBe(3);
  });

  it('parks a failing batch at once when a record is older than maxRecordAgeSeconds', async () => {
    const { consumer, batches } = recorder({
      maxRecordAgeSeconds: 60,
      answer: async () => {
        throw new Error('down');
      },
    });
    const twoMinutesAgo = Math.floor(Date.now() / 1000) - 120;

    const { failures } = await deliver(consumer, records(1, undefined, twoMinutesAgo));

    expect(batches).toEqual([['1']]);
    expect(failures[0]?.requestContext).toEqual({
      condition: 'RecordAgeExceeded',
      approximateInvokeCount: 1,
    });
  });

  it('runs up to parallelizationFactor batches at once and keeps each partition key in order', async () => {
    let running = 0;
    let mostAtOnce = 0;
    const seen: string[] = [];
    const { consumer } = recorder({
      batchSize: 1,
      parallelizationFactor: 4,
      answer: async (event) => {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        seen.push(...event.Records.map((r) => `${r.dynamodb?.Keys?.PK?.S} ${idOf(r)}`));
        running--;
        return undefined;
      },
    });
    // 60 records over 12 items, each item written five times.
    const all = records(60, (i) => `ITEM#${i % 12}`);

    await deliver(consumer, all);

    expect(mostAtOnce).toBeGreaterThan(1);
    expect(mostAtOnce).toBeLessThanOrEqual(4);
    expect(seen).toHaveLength(60);
    for (let item = 0; item < 12; item++) {
      const ids = seen.filter((s) => s.startsWith(`ITEM#${item} `)).map((s) => Number(s.split(' ')[1]));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
  });

  it("reports the consumer's timeout as the remaining time of the handler's context", async () => {
    let remaining = 0;
    const consumer: StreamConsumer = {
      name: 'timed',
      batchSize: 10,
      timeoutSeconds: 60,
      handler: async (_event, context) => {
        remaining = context.getRemainingTimeInMillis();
      },
    };

    await deliver(consumer, records(1));

    expect(remaining).toBeGreaterThan(59_000);
    expect(remaining).toBeLessThanOrEqual(60_000);
  });
});
