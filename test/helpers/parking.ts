// Delivering a shard's records as the local stream poller does (filters, batches, retries), for the
// replay tests: what the consumer gives up is collected, in the shape parked batches take.
import { DescribeStreamCommand, type DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { deliverRecords, type FailedBatch, type StreamConsumer } from '#local/stream-delivery.ts';

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
