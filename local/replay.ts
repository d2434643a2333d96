// Re-driving parked stream batches: for each on-failure message (the local parking file, or the SQS
// on-failure queue's messages on AWS), read the batch's records back from the table's stream — from
// its start sequence number to its end, within the stream's 24 h retention — and deliver them to the
// same consumer through the real handlers, with the same filters, batch size and retries as the stream
// poller, in one lane and in order; the first batch that fails again parks the rest of the range as
// one message. Replaying is idempotent: evaluate's writes are guarded by the endpoint's revisions and
// notify publishes once per transition id, so a batch replayed twice records and alerts nothing new.
import {
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { TABLE_SCHEMA } from '#adapters/keys.ts';
import { consumerOf, type OnFailureMessage } from './parking.ts';
import {
  type ConsumerStats,
  deliverRecords,
  errorText,
  type FailedBatch,
  type StreamConsumer,
} from './stream-delivery.ts';
import { toLambdaRecord } from './stream-records.ts';

export type ReplayOutcome =
  /** Every record of the batch was delivered and handled. */
  | 'replayed'
  /** Some records failed again: their batch is parked again (a new message). */
  | 'failed-again'
  /** The records are no longer in the stream (older than its 24 h, or the stream is gone). */
  | 'expired'
  /** The message names no consumer this replay knows. */
  | 'unknown-consumer';

export interface ReplayedBatch {
  readonly message: OnFailureMessage;
  readonly outcome: ReplayOutcome;
  /** Records read back from the stream between the batch's sequence numbers (before filtering). */
  readonly records: number;
  /** Invocations of the consumer (batches of the records that pass its filters). */
  readonly invocations: number;
  readonly parkedAgain: readonly FailedBatch[];
}

export interface ReplayOptions {
  readonly streams: DynamoDBStreamsClient;
  readonly consumers: readonly StreamConsumer[];
  /** Called for a batch that fails its retries again (park it again, as the stream poller would). */
  readonly onFailedBatch?: (failure: FailedBatch) => void;
  readonly retryBackoffMs?: number;
  readonly log?: (line: string) => void;
}

const MAX_BACKOFF_MS = 2_000;
/** Empty pages in a row before giving up on reaching the end sequence number (an open shard). */
const MAX_EMPTY_PAGES = 3;

/**
 * Replays the messages; messages of one consumer and shard whose ranges overlap are replayed
 * as one range. The stream poller parks a batch per lane, and the batches of one page interleave, so
 * each lane's range holds the other lanes' records too: replayed one by one, a page parked in four
 * lanes was read and delivered four times. Every message of a merged range gets its outcome (the
 * first one carries the counts and what was parked again).
 */
export async function replayBatches(
  messages: readonly OnFailureMessage[],
  opts: ReplayOptions,
): Promise<ReplayedBatch[]> {
  const results: ReplayedBatch[] = [];
  for (const group of overlappingRanges(messages, opts.consumers)) {
    const [first, ...rest] = group;
    if (first === undefined) continue;
    const merged = await replayBatch(spanning(group), opts);
    results.push({ ...merged, message: first });
    for (const message of rest)
      results.push({ message, outcome: merged.outcome, records: 0, invocations: 0, parkedAgain: [] });
  }
  return results;
}

/**
 * The messages in groups whose ranges overlap, each group of one consumer, stream and shard, sorted
 * by start; a message overlapping none is a group of its own. Also the AWS replay's (local/aws-replay.ts).
 */
export function overlappingRanges(
  messages: readonly OnFailureMessage[],
  consumers: readonly Pick<StreamConsumer, 'name'>[],
): OnFailureMessage[][] {
  const names = consumers.map((c) => c.name);
  const laneOf = (m: OnFailureMessage) => {
    const info = m.DDBStreamBatchInfo;
    return `${consumerOf(m, names) ?? m.requestContext.functionArn} ${info.streamArn} ${info.shardId}`;
  };
  const start = (m: OnFailureMessage) => BigInt(m.DDBStreamBatchInfo.startSequenceNumber);
  const end = (m: OnFailureMessage) => BigInt(m.DDBStreamBatchInfo.endSequenceNumber);
  const sorted = [...messages].sort((a, b) =>
    laneOf(a) === laneOf(b)
      ? start(a) < start(b)
        ? -1
        : start(a) > start(b)
          ? 1
          : 0
      : laneOf(a) < laneOf(b)
        ? -1
        : 1,
  );
  const groups: OnFailureMessage[][] = [];
  let current: OnFailureMessage[] = [];
  let currentEnd = 0n;
  for (const m of sorted) {
    const head = current[0];
    if (head !== undefined && laneOf(head) === laneOf(m) && start(m) <= currentEnd) {
      current.push(m);
      if (end(m) > currentEnd) currentEnd = end(m);
      continue;
    }
    if (head !== undefined) groups.push(current);
    current = [m];
    currentEnd = end(m);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The first message of a group, its range widened to cover them all. */
export function spanning(group: readonly OnFailureMessage[]): OnFailureMessage {
  const first = group[0] as OnFailureMessage;
  if (group.length === 1) return first;
  const seqs = group.flatMap((m) => [
    m.DDBStreamBatchInfo.startSequenceNumber,
    m.DDBStreamBatchInfo.endSequenceNumber,
  ]);
  const sorted = seqs.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
  return {
    ...first,
    DDBStreamBatchInfo: {
      ...first.DDBStreamBatchInfo,
      startSequenceNumber: sorted[0] as string,
      endSequenceNumber: sorted.at(-1) as string,
    },
  };
}

export async function replayBatch(message: OnFailureMessage, opts: ReplayOptions): Promise<ReplayedBatch> {
  const log = opts.log ?? (() => undefined);
  const name = consumerOf(
    message,
    opts.consumers.map((c) => c.name),
  );
  const consumer = opts.consumers.find((c) => c.name === name);
  if (consumer === undefined) {
    log(`replay: no consumer for ${message.requestContext.functionArn}; left alone`);
    return { message, outcome: 'unknown-consumer', records: 0, invocations: 0, parkedAgain: [] };
  }
  return replayRange(message, consumer, opts);
}

/**
 * Replays one batch through the given consumer, whichever function the message names (the AWS replay
 * knows the consumer from the queue the message came from: local/aws-replay.ts).
 */
export async function replayRange(
  message: OnFailureMessage,
  consumer: StreamConsumer,
  opts: Omit<ReplayOptions, 'consumers'>,
): Promise<ReplayedBatch> {
  const log = opts.log ?? (() => undefined);
  const info = message.DDBStreamBatchInfo;
  let records: DynamoDBRecord[];
  try {
    records = await readRange(
      opts.streams,
      info.streamArn,
      info.shardId,
      info.startSequenceNumber,
      info.endSequenceNumber,
    );
  } catch (e: unknown) {
    if (e instanceof TrimmedDataAccessException || e instanceof ResourceNotFoundException) {
      log(
        `replay: ${consumer.name} batch ${info.startSequenceNumber}…${info.endSequenceNumber} is no longer in the stream ` +
          `(${errorText(e)}); re-evaluate the fleet instead (PUT a group again)`,
      );
      return { message, outcome: 'expired', records: 0, invocations: 0, parkedAgain: [] };
    }
    throw e;
  }
  const parkedAgain: FailedBatch[] = [];
  const stats: ConsumerStats = {
    invocations: 0,
    recordsDelivered: 0,
    failedInvocations: 0,
    batchesGivenUp: 0,
  };
  const backoffMs = opts.retryBackoffMs ?? 100;
  // One lane, no bisecting, retries of the failed records only, and a stop at the first batch given
  // up, which parks the range's whole rest as one message. Delivered as the mapping does (several lanes, each failing batch parked on
  // its own), a replayed range re-parked a message per lane — it holds every key's records between
  // its sequence numbers, not only the failed lane's — and under a 20 % fault rate 142 parked
  // batches grew to 378 in 25 minutes. This way a message comes back at most once, starting at the
  // first record that failed again, so each round shrinks the parked set (decisions §25).
  let stopped = false;
  await deliverRecords(
    {
      consumer: { ...consumer, parallelizationFactor: 1, bisectBatchOnError: false },
      shardId: info.shardId,
      streamArn: info.streamArn,
      partitionKey: TABLE_SCHEMA.partitionKey,
      replay: true,
      retryFailedOnly: true,
      stats,
      running: () => !stopped,
      backoff: (attempt) => sleep(Math.min(backoffMs * 2 ** (attempt - 1), MAX_BACKOFF_MS)),
      onFailedBatch: (failure) => {
        stopped = true;
        const tail = restOfRange(failure, records, info.endSequenceNumber);
        parkedAgain.push(tail);
        opts.onFailedBatch?.(tail);
      },
    },
    records,
  );
  const outcome = parkedAgain.length === 0 ? 'replayed' : 'failed-again';
  log(
    `replay: ${consumer.name} batch ${info.startSequenceNumber}…${info.endSequenceNumber}: ${records.length} records read, ` +
      `${stats.invocations} invocations, ${outcome}`,
  );
  return { message, outcome, records: records.length, invocations: stats.invocations, parkedAgain };
}

/** A batch given up during a replay, widened to the end of the replayed range. */
function restOfRange(failure: FailedBatch, records: readonly DynamoDBRecord[], end: string): FailedBatch {
  const from = BigInt(failure.DDBStreamBatchInfo.startSequenceNumber);
  const rest = records.filter((r) => BigInt(r.dynamodb?.SequenceNumber ?? '0') >= from);
  return {
    ...failure,
    DDBStreamBatchInfo: { ...failure.DDBStreamBatchInfo, endSequenceNumber: end, batchSize: rest.length },
    records: rest,
  };
}

/** The shard's records from `start` to `end` inclusive, as Lambda hands them to a function. */
export async function readRange(
  streams: DynamoDBStreamsClient,
  streamArn: string,
  shardId: string,
  start: string,
  end: string,
): Promise<DynamoDBRecord[]> {
  const last = BigInt(end);
  const out: DynamoDBRecord[] = [];
  let iterator = (
    await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        SequenceNumber: start,
      }),
    )
  ).ShardIterator;
  let empty = 0;
  while (iterator !== undefined) {
    const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    const records = page.Records ?? [];
    for (const r of records) {
      const seq = r.dynamodb?.SequenceNumber;
      if (seq === undefined) continue;
      if (BigInt(seq) > last) return out;
      out.push(toLambdaRecord(r, streamArn));
      if (BigInt(seq) === last) return out;
    }
    empty = records.length === 0 ? empty + 1 : 0;
    if (empty >= MAX_EMPTY_PAGES) break;
    iterator = page.NextShardIterator;
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
