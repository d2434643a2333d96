// Reading one shard for one consumer, as an event source mapping does: wait until the parent shard is
// read to its end, then GetRecords from the checkpoint and hand each page to stream-delivery.ts,
// getting past expired iterators, trimmed records and transient errors.
import {
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import { type DeliveryContext, deliverRecords, errorText, type StreamConsumer } from './stream-delivery.ts';
import { toLambdaRecord } from './stream-records.ts';

const GET_RECORDS_LIMIT = 1000;

export interface ShardInfo {
  readonly shardId: string;
  readonly parentShardId: string | undefined;
}

/** One consumer's position in one shard. */
export interface ShardTask {
  readonly consumer: StreamConsumer;
  readonly shard: ShardInfo;
  readonly initialPosition: 'TRIM_HORIZON' | 'LATEST';
  /** Sequence number of the last record handled (delivered, skipped by filter, or given up). */
  checkpoint: string | undefined;
  done: boolean;
  waitingForParent: boolean;
  inFlight: boolean;
  lastPollTick: number;
  lastPollEmpty: boolean;
  readonly wake: Wakeable;
}

/** What the poller shares with each shard reader. */
export interface ShardReading {
  readonly client: DynamoDBStreamsClient;
  readonly streamArn: string;
  readonly pollIntervalMs: number;
  readonly running: () => boolean;
  readonly parentDone: (task: ShardTask) => boolean;
  /** The poller's logical clock, which orders polls and deliveries for `drained()`. */
  readonly tick: () => number;
  readonly delivered: () => void;
  /** The task's checkpoint moved past a handled page. */
  readonly checkpointed: (task: ShardTask) => void;
  readonly changed: () => void;
  readonly backoffMs: (attempt: number) => number;
  readonly deliveryContext: (task: ShardTask) => DeliveryContext;
  readonly log: (message: string, details?: Record<string, unknown>) => void;
}

/** Resolves when the shard is closed and read to its end, trimmed away, or the poller stops. */
export async function readShard(task: ShardTask, r: ShardReading): Promise<void> {
  const label = { consumer: task.consumer.name, shardId: task.shard.shardId };
  task.waitingForParent = true;
  while (r.running() && !r.parentDone(task)) await task.wake.sleep(r.pollIntervalMs);
  task.waitingForParent = false;
  let iterator: string | undefined;
  let errors = 0;
  while (r.running()) {
    try {
      iterator ??= await iteratorFor(task, r);
      if (iterator === undefined) break;
      const pollTick = r.tick();
      const out = await r.client.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: GET_RECORDS_LIMIT }),
      );
      errors = 0;
      const records = out.Records ?? [];
      if (records.length > 0) {
        task.inFlight = true;
        try {
          const lambdaRecords = records.map((rec) => toLambdaRecord(rec, r.streamArn));
          await deliverRecords(r.deliveryContext(task), lambdaRecords);
          // Records the filters dropped are handled too: the next read starts after the page.
          if (r.running()) {
            task.checkpoint = records.at(-1)?.dynamodb?.SequenceNumber ?? task.checkpoint;
            r.checkpointed(task);
          }
        } finally {
          task.inFlight = false;
          r.delivered();
        }
      }
      task.lastPollTick = pollTick;
      task.lastPollEmpty = records.length === 0;
      iterator = out.NextShardIterator;
      if (iterator === undefined) break; // closed shard read to its end
      r.changed();
      if (records.length === 0) await task.wake.sleep(r.pollIntervalMs);
    } catch (e: unknown) {
      if (!r.running()) break;
      iterator = undefined; // re-acquired from the checkpoint
      if (e instanceof ResourceNotFoundException) break; // shard trimmed away
      if (e instanceof TrimmedDataAccessException) {
        r.log('Records trimmed before they were read; continuing at the trim horizon', label);
        task.checkpoint = undefined;
      } else if (!(e instanceof ExpiredIteratorException)) {
        errors++;
        r.log('Reading the stream failed; retrying', { ...label, error: errorText(e) });
        await task.wake.sleep(r.backoffMs(errors));
      }
    }
  }
}

async function iteratorFor(task: ShardTask, r: ShardReading): Promise<string | undefined> {
  const position =
    task.checkpoint === undefined
      ? { ShardIteratorType: task.initialPosition }
      : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, SequenceNumber: task.checkpoint };
  const out = await r.client.send(
    new GetShardIteratorCommand({ StreamArn: r.streamArn, ShardId: task.shard.shardId, ...position }),
  );
  return out.ShardIterator;
}

/** A sleep that the poller can cut short (new work, or stopping). */
export interface Wakeable {
  sleep(ms: number): Promise<void>;
  wake(): void;
}

export function wakeable(): Wakeable {
  let wakeUp: (() => void) | undefined;
  return {
    sleep(ms) {
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          wakeUp = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        wakeUp = done;
      });
    },
    wake() {
      wakeUp?.();
    },
  };
}
