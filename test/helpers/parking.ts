// Delivering a shard's records as the local stream poller does (filters, batches, retries), for the
// replay tests: what the consumer gives up is collected, in the shape parked batches take.
import { DescribeStreamCommand, type DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { onFailureMessage } from '#local/parking.ts';
import { deliverRecords, type FailedBatch, type StreamConsumer } from '#local/stream-delivery.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { endpointRecords, evaluatorHarness } from './evaluator.ts';

/** Delivers `records` to `consumer` on the stream's first shard, without backoff; returns what was parked. */
export async function deliverParking(
  streams: DynamoDBStreamsClient,
  consumer: StreamConsumer,
  records: readonly DynamoDBRecord[],
  streamArn: string,
): Promise<FailedBatch[]> {
  const parked: FailedBatch[] = [];
  const shards = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  await deliverRecords(
    {
      consumer,
      shardId: shards.StreamDescription?.Shards?.[0]?.ShardId ?? '',
      streamArn,
      partitionKey: 'PK',
      stats: { invocations: 0, recordsDelivered: 0, failedInvocations: 0, batchesGivenUp: 0 },
      running: () => true,
      backoff: async () => undefined,
      onFailedBatch: (f) => parked.push(f),
    },
    records,
  );
  return parked;
}

/**
 * Eight endpoints each reported FAILED, their stream records, and `parked(from, to, id)`: the
 * on-failure message of records `from`..`to` (indexes) as the poller parks a batch.
 */
export async function eightFailedReports(streams: DynamoDBStreamsClient, now: () => number) {
  const t = await evaluatorHarness({ now });
  await t.settle();
  for (let i = 1; i <= 8; i++)
    await t.report(`LAPTOP-${i}`, 1, { 'BitLocker Key Backup Status': SCRIPT_OUTPUT.failed });
  const records = endpointRecords(await t.stream.next());
  const shards = await streams.send(new DescribeStreamCommand({ StreamArn: t.stream.streamArn }));
  const shardId = shards.StreamDescription?.Shards?.[0]?.ShardId ?? '';
  const seq = (i: number) => records[i]?.dynamodb?.SequenceNumber ?? '';
  const parked = (from: number, to: number, id: string) =>
    onFailureMessage(
      {
        consumer: 'evaluate',
        requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 6 },
        DDBStreamBatchInfo: {
          shardId,
          startSequenceNumber: seq(from),
          endSequenceNumber: seq(to),
          batchSize: to - from + 1,
          streamArn: t.stream.streamArn,
        },
        error: 'x',
        records: [],
      },
      id,
    );
  return { t, records, parked };
}
