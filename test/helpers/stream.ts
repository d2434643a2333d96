// Reads a table's stream the way Lambda's event source mapping delivers it, step by step, so tests can
// hand real stream batches to the handlers (and hand the same batch twice, as a redelivery would).
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type FilterPattern, passesFilters } from '#local/stream-filter.ts';
import { toLambdaRecord } from '#local/stream-records.ts';

export async function streamReader(client: DynamoDBClient, tableName: string, endpoint: string) {
  const table = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const streamArn = table.Table?.LatestStreamArn;
  if (!streamArn) throw new Error('no stream');
  const streams = new DynamoDBStreamsClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const lastSeq = new Map<string, string>();

  /** Every record written since the previous call, in shard order. */
  async function next(): Promise<DynamoDBRecord[]> {
    const out: DynamoDBRecord[] = [];
    const desc = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of desc.StreamDescription?.Shards ?? []) {
      const shardId = shard.ShardId as string;
      const after = lastSeq.get(shardId);
      let iterator = (
        await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ShardIteratorType: after ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
            ...(after ? { SequenceNumber: after } : {}),
          }),
        )
      ).ShardIterator;
      while (iterator) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        for (const r of page.Records ?? []) {
          out.push(toLambdaRecord(r, streamArn as string));
          if (r.dynamodb?.SequenceNumber) lastSeq.set(shardId, r.dynamodb.SequenceNumber);
        }
        if ((page.Records ?? []).length === 0) break;
        iterator = page.NextShardIterator;
      }
    }
    return out;
  }

  return { next, streamArn };
}

export function batchOf(
  records: readonly DynamoDBRecord[],
  filters: readonly FilterPattern[],
): DynamoDBStreamEvent {
  return { Records: records.filter((r) => passesFilters(r, filters)) };
}

type Image = Record<string, AttributeValue>;

/** A Lambda-shaped stream record of the keywatch table; `seq` orders records of one shard. */
export function streamRecord(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  images: { NewImage?: Image; OldImage?: Image },
  options: { pk?: string; seq?: number; createdAtSeconds?: number } = {},
): DynamoDBRecord {
  const seq = String(options.seq ?? 100);
  return {
    eventID: `event-${seq}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'local',
    dynamodb: {
      ApproximateCreationDateTime: options.createdAtSeconds ?? Math.floor(Date.now() / 1000),
      Keys: { PK: { S: options.pk ?? 'ITEM#1' }, SK: { S: 'ITEM' } },
      SequenceNumber: seq,
      SizeBytes: 10,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
      ...images,
    },
    eventSourceARN: 'arn:aws:dynamodb:local:000000000000:table/t/stream/x',
  };
}
