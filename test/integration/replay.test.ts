// Parking and replay: a stream batch that fails its retries is parked in the shape Lambda sends to the
// on-failure queue (coordinates, no records), and `npm run replay`'s engine reads its records back from
// the real stream (DynamoDB Local) and re-drives them through the real handlers: the transitions and
// alerts it was holding are produced exactly once, and replaying again changes nothing.
import { DescribeStreamCommand, DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { PublishCommandInput } from '@aws-sdk/client-sns';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '#adapters/clients.ts';
import { createNotifyHandler } from '#functions/notify/notify.ts';
import { STREAM_CONSUMERS } from '#infra/stream-settings.ts';
import { faultError } from '#local/faults.ts';
import { consumerOf, type OnFailureMessage, onFailureMessage } from '#local/parking.ts';
import { replayBatches } from '#local/replay.ts';
import type { StreamConsumer } from '#local/stream-delivery.ts';
import { dynamoEndpoint } from '#test/helpers/dynamo.ts';
import { evaluatorHarness, harnessWithUnwritableReport, transitionEvents } from '#test/helpers/evaluator.ts';
import { deliverParking, eightFailedReports } from '#test/helpers/parking.ts';

// No CloudWatch here: Powertools Metrics would print one EMF line per notify invocation.
beforeAll(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});
afterAll(() => {
  delete process.env.POWERTOOLS_METRICS_DISABLED;
});

const FAILED_GROUP = 'bitlocker-key-backup-failed';
const clock = Date.parse('2026-11-26T10:00:00Z');

let streams: DynamoDBStreamsClient;
beforeAll(async () => {
  streams = new DynamoDBStreamsClient({
    endpoint: await dynamoEndpoint(),
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

describe('parking and replay', () => {
  it('parks a batch that exhausts its retries in the on-failure message shape, and replays it exactly once', async () => {
    // An evaluator whose membership writes are throttled every time.
    const { t, records, broken } = await harnessWithUnwritableReport(() => clock);
    const consumer = (deliver: (r: DynamoDBRecord[]) => Promise<unknown>): StreamConsumer => ({
      name: 'evaluate',
      ...STREAM_CONSUMERS.evaluate,
      retryAttempts: 1,
      handler: (event: DynamoDBStreamEvent) => deliver(event.Records),
    });

    const parked = await deliverParking(streams, consumer(broken.deliver), records, t.stream.streamArn);

    expect(parked).toHaveLength(1);
    expect(await t.transitions(FAILED_GROUP)).toEqual([]);
    const message: OnFailureMessage = JSON.parse(JSON.stringify(onFailureMessage(parked[0]!, 'req-1')));
    expect(message).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 },
      version: '1.0',
      DDBStreamBatchInfo: {
        shardId: expect.stringContaining('shardId-'),
        startSequenceNumber: records[0]?.dynamodb?.SequenceNumber,
        endSequenceNumber: records.at(-1)?.dynamodb?.SequenceNumber,
        batchSize: 1,
        streamArn: t.stream.streamArn,
      },
    });
    expect(message).not.toHaveProperty('records');
    expect(consumerOf(message, ['evaluate', 'notify'])).toBe('evaluate');

    const healthy = [consumer(t.main.deliver)];
    const first = await replayBatches([message], { streams, consumers: healthy });
    expect(first.map((r) => [r.outcome, r.records])).toEqual([['replayed', 1]]);
    expect((await t.transitions(FAILED_GROUP)).map((i) => i.event)).toEqual(['entered']);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([FAILED_GROUP]);

    const second = await replayBatches([message], { streams, consumers: healthy });
    expect(second.map((r) => r.outcome)).toEqual(['replayed']);
    expect((await t.transitions(FAILED_GROUP)).map((i) => i.event)).toEqual(['entered']);

    // The transition's own record, for notify: parked while publishing fails, then replayed.
    const transitionRecords = await t.stream.next();
    const published: PublishCommandInput[] = [];
    let snsDown = true;
    const notify = createNotifyHandler({
      publisher: {
        async publish(input) {
          if (snsDown) throw faultError('sns', 'error', 'PublishCommand');
          published.push(input);
        },
      },
      topicArn: 'arn:aws:sns:local:000000000000:alerts',
      table: { client: createDynamoClient(await dynamoEndpoint()), tableName: t.tableName },
    });
    const notifyConsumer: StreamConsumer = {
      name: 'notify',
      ...STREAM_CONSUMERS.notify,
      retryAttempts: 1,
      handler: notify as unknown as StreamConsumer['handler'],
    };
    const parkedAlerts = await deliverParking(streams, notifyConsumer, transitionRecords, t.stream.streamArn);
    expect(parkedAlerts).toHaveLength(1);
    expect(published).toHaveLength(0);

    snsDown = false;
    const alertMessage = onFailureMessage(parkedAlerts[0]!, 'req-2');
    await replayBatches([alertMessage], { streams, consumers: [notifyConsumer] });
    await replayBatches([alertMessage, alertMessage], { streams, consumers: [notifyConsumer] });
    expect(published).toHaveLength(1);
    expect(published[0]?.Subject).toContain('LAPTOP-1');
  });

  it('replays a range in one lane and in order, and parks only its rest, once, when a record fails again', async () => {
    const { t, records, parked } = await eightFailedReports(streams, () => clock);
    expect(records).toHaveLength(8);
    const seq = (r: DynamoDBRecord | undefined) => r?.dynamodb?.SequenceNumber ?? '';
    const poison = seq(records[3]);
    const delivered: string[][] = [];
    // Four lanes and bisecting, as deployed; a handler that always fails the fourth record.
    const consumer: StreamConsumer = {
      name: 'evaluate',
      ...STREAM_CONSUMERS.evaluate,
      batchSize: 2,
      retryAttempts: 2,
      handler: async (event: DynamoDBStreamEvent) => {
        delivered.push(event.Records.map(seq));
        const ok = event.Records.filter((r) => seq(r) !== poison);
        await t.main.deliver(ok);
        return { batchItemFailures: ok.length < event.Records.length ? [{ itemIdentifier: poison }] : [] };
      },
    };
    const range = parked(0, 7, 'req-4');
    const parkedAgain: string[][] = [];
    const [result] = await replayBatches([range], {
      streams,
      consumers: [consumer],
      retryBackoffMs: 0,
      onFailedBatch: (f) =>
        parkedAgain.push([f.DDBStreamBatchInfo.startSequenceNumber, f.DDBStreamBatchInfo.endSequenceNumber]),
    });

    // In order, in batches of two; the failing batch retried from the poisoned record, then no more.
    expect(delivered).toEqual([
      [seq(records[0]), seq(records[1])],
      [seq(records[2]), poison],
      [poison],
      [poison],
    ]);
    expect(result?.outcome).toBe('failed-again');
    expect(parkedAgain).toEqual([[poison, seq(records[7])]]);
    expect(result?.parkedAgain.map((p) => p.DDBStreamBatchInfo.batchSize)).toEqual([5]);
    // What came before the failure is done: the next round starts at the poisoned record.
    expect((await transitionEvents(t, FAILED_GROUP)).length).toBe(3);
  });

  it('replays overlapping parked ranges of one shard once, as one range', async () => {
    const { t, records, parked } = await eightFailedReports(streams, () => clock);
    const seq = (i: number) => records[i]?.dynamodb?.SequenceNumber ?? '';
    const delivered: string[] = [];
    const consumer: StreamConsumer = {
      name: 'evaluate',
      ...STREAM_CONSUMERS.evaluate,
      handler: async (event: DynamoDBStreamEvent) => {
        delivered.push(...event.Records.map((r) => r.dynamodb?.SequenceNumber ?? ''));
        return t.main.deliver(event.Records);
      },
    };
    // Two lanes' batches of one page (interleaved), and a later batch apart from them.
    const results = await replayBatches([parked(6, 7, 'c'), parked(0, 4, 'a'), parked(2, 5, 'b')], {
      streams,
      consumers: [consumer],
    });

    expect(delivered).toEqual(records.map((_, i) => seq(i)));
    expect(results.map((r) => [r.message.requestContext.requestId, r.outcome, r.records])).toEqual([
      ['a', 'replayed', 6],
      ['b', 'replayed', 0],
      ['c', 'replayed', 2],
    ]);
    expect((await transitionEvents(t, FAILED_GROUP)).length).toBe(8);
  });

  it('says a batch is gone when its records are no longer in the stream', async () => {
    const t = await evaluatorHarness({ now: () => clock });
    const shards = await streams.send(new DescribeStreamCommand({ StreamArn: t.stream.streamArn }));
    const message = onFailureMessage(
      {
        consumer: 'evaluate',
        requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 6 },
        DDBStreamBatchInfo: {
          shardId: 'shardId-00000000000000000000-00000000',
          startSequenceNumber: '000000000000000000100',
          endSequenceNumber: '000000000000000000200',
          batchSize: 1,
          streamArn: t.stream.streamArn,
        },
        error: 'x',
        records: [],
      },
      'req-3',
    );
    expect(shards.StreamDescription?.Shards?.length).toBeGreaterThan(0);
    const [result] = await replayBatches([message], {
      streams,
      consumers: [{ name: 'evaluate', batchSize: 50, handler: async () => undefined }],
    });
    expect(result?.outcome).toBe('expired');
  });
});
