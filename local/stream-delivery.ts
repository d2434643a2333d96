// What an event source mapping does with the records it read from one shard for one function:
// filter them, spread them over parallel lanes by partition key, cut batches, invoke, retry from the
// lowest failed record, bisect on function errors, and give a batch up to the on-failure destination.
// The stream poller (stream-poller.ts) reads the shards and calls this for every page of records.
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { StreamConsumerSettings } from '#infra/stream-settings.ts';
import { lambdaContext } from './lambda-context.ts';
import { type FilterPattern, passesFilters } from './stream-filter.ts';

type DeliverySettings = Omit<StreamConsumerSettings, 'filters' | 'maxBatchingWindowSeconds'>;

export interface StreamConsumer extends Partial<DeliverySettings> {
  /** Shown in logs and used as the function name in the handler's context. */
  readonly name: string;
  /** Answers like a Lambda handler: nothing, or `{ batchItemFailures }`. */
  readonly handler: (event: DynamoDBStreamEvent, context: Context) => Promise<unknown>;
  readonly batchSize: number;
  readonly filters?: readonly FilterPattern[];
  /** Only 0 is simulated; a window would delay every batch (see infra/stream-settings.ts). */
  readonly maxBatchingWindowSeconds?: 0;
}

/**
 * Settings a consumer leaves out: Lambda's defaults, except that retries are bounded (Lambda retries
 * until the record expires, which locally would spin for a day) and partial batch responses are on.
 */
const DEFAULTS: Omit<DeliverySettings, 'batchSize'> = {
  parallelizationFactor: 1,
  startingPosition: 'TRIM_HORIZON',
  reportBatchItemFailures: true,
  bisectBatchOnError: false,
  retryAttempts: 9,
  maxRecordAgeSeconds: Number.POSITIVE_INFINITY,
  timeoutSeconds: 30,
};

function settingsOf(consumer: StreamConsumer): DeliverySettings {
  return { ...DEFAULTS, ...consumer };
}

/** What the stack's on-failure destination receives for a batch given up, plus its records. */
export interface FailedBatch {
  readonly consumer: string;
  readonly requestContext: {
    condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
    approximateInvokeCount: number;
  };
  readonly DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    batchSize: number;
    streamArn: string;
  };
  readonly error: string;
  readonly records: readonly DynamoDBRecord[];
}

export interface ConsumerStats {
  invocations: number;
  recordsDelivered: number;
  failedInvocations: number;
  batchesGivenUp: number;
}

/** A stream event; a replay of a parked batch says so (the evaluator then records passed-over states). */
export type ReplayableStreamEvent = DynamoDBStreamEvent & { readonly keywatchReplay?: true };

export interface DeliveryContext {
  readonly consumer: StreamConsumer;
  readonly shardId: string;
  readonly streamArn: string;
  /** The table's partition key attribute: records sharing it stay in order across lanes. */
  readonly partitionKey: string;
  readonly stats: ConsumerStats;
  readonly running: () => boolean;
  /** Waits before a retry (cut short when the poller stops). */
  readonly backoff: (attempt: number) => Promise<void>;
  readonly onFailedBatch: (failure: FailedBatch) => void;
  readonly nowMs?: () => number;
  /** Marks each invocation's event as a replay of a parked batch (`keywatchReplay: true`). */
  readonly replay?: boolean;
  /**
   * After a partial batch response, retry only the records the function reported failed, instead of
   * everything from the lowest one on as Lambda does. Sound for keywatch's functions, which fail an
   * item's later records once one of them fails, and in a replay all of its records in the batch
   * (functions/evaluate/app.ts), so what they do not report is done. The replay uses it: under a 20 % fault rate, retrying from the lowest failed
   * record redid most of a batch on every attempt and advanced a few records per round.
   */
  readonly retryFailedOnly?: boolean;
}

/**
 * Delivers one page of a shard's records; resolves when every lane is done with them. The shard's
 * next page is read only then: a barrier Lambda does not promise (a slow batch there need not hold
 * up the other keys), which the local evaluator relies on to start fleet walks without a delay
 * (functions.ts).
 */
export async function deliverRecords(ctx: DeliveryContext, records: readonly DynamoDBRecord[]) {
  const settings = settingsOf(ctx.consumer);
  const selected = records.filter((r) => passesFilters(r, ctx.consumer.filters ?? []));
  const lanes = Array.from({ length: settings.parallelizationFactor }, () => [] as DynamoDBRecord[]);
  for (const record of selected) {
    const key = JSON.stringify(record.dynamodb?.Keys?.[ctx.partitionKey] ?? null);
    lanes[laneOf(key, lanes.length)]?.push(record);
  }
  await Promise.all(
    lanes.map(async (lane) => {
      for (let i = 0; i < lane.length && ctx.running(); i += settings.batchSize) {
        await deliverBatch(ctx, settings, lane.slice(i, i + settings.batchSize));
      }
    }),
  );
}

/** FNV-1a: a stable lane per partition key, like Lambda's hashing of keys onto concurrent batches. */
function laneOf(key: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}

type Outcome =
  | { kind: 'ok' }
  | { kind: 'partial'; failedFrom: number; failed: ReadonlySet<string>; error: string }
  | { kind: 'error'; error: string };

async function deliverBatch(
  ctx: DeliveryContext,
  settings: DeliverySettings,
  batch: readonly DynamoDBRecord[],
): Promise<void> {
  const { stats } = ctx;
  let pending = batch;
  for (let attempt = 1; ctx.running(); attempt++) {
    stats.invocations++;
    const outcome = await invoke(ctx.consumer, settings, pending, ctx.replay === true);
    if (outcome.kind === 'ok') {
      stats.recordsDelivered += pending.length;
      return;
    }
    stats.failedInvocations++;
    if (outcome.kind === 'partial') {
      // Lambda checkpoints just before the lowest failed record and retries from there.
      const { failed } = outcome;
      const rest = ctx.retryFailedOnly
        ? pending.filter((r) => failed.has(r.dynamodb?.SequenceNumber ?? ''))
        : pending.slice(outcome.failedFrom);
      stats.recordsDelivered += pending.length - rest.length;
      pending = rest;
    } else if (settings.bisectBatchOnError && pending.length > 1) {
      // Splitting does not count against the retry quota: each half starts its own.
      const half = Math.ceil(pending.length / 2);
      await deliverBatch(ctx, settings, pending.slice(0, half));
      if (ctx.running()) await deliverBatch(ctx, settings, pending.slice(half));
      return;
    }
    const condition =
      attempt > settings.retryAttempts
        ? 'RetryAttemptsExhausted'
        : oldestAgeSeconds(pending, ctx.nowMs ?? Date.now) > settings.maxRecordAgeSeconds
          ? 'RecordAgeExceeded'
          : undefined;
    if (condition !== undefined) {
      stats.batchesGivenUp++;
      ctx.onFailedBatch({
        consumer: ctx.consumer.name,
        requestContext: { condition, approximateInvokeCount: attempt },
        DDBStreamBatchInfo: {
          shardId: ctx.shardId,
          startSequenceNumber: pending[0]?.dynamodb?.SequenceNumber ?? '',
          endSequenceNumber: pending.at(-1)?.dynamodb?.SequenceNumber ?? '',
          batchSize: pending.length,
          streamArn: ctx.streamArn,
        },
        error: outcome.error,
        records: pending,
      });
      return;
    }
    await ctx.backoff(attempt);
  }
}

/**
 * Age is judged only for a batch that failed: a restarted `npm start` with KEYWATCH_DATA_DIR resumes
 * where it stopped, and records written before a long stop are work to do, not failures to park.
 */
function oldestAgeSeconds(records: readonly DynamoDBRecord[], nowMs: () => number): number {
  const created = records.map((r) => r.dynamodb?.ApproximateCreationDateTime ?? Number.POSITIVE_INFINITY);
  return nowMs() / 1000 - Math.min(...created);
}

async function invoke(
  consumer: StreamConsumer,
  settings: DeliverySettings,
  records: readonly DynamoDBRecord[],
  replay: boolean,
): Promise<Outcome> {
  let response: unknown;
  try {
    // The timeout is reported through the context, not enforced: a handler cannot be stopped
    // in-process, and failing it while it still runs would process its records twice at once.
    const context = lambdaContext(consumer.name, settings.timeoutSeconds * 1000);
    const event: ReplayableStreamEvent = {
      Records: [...records],
      ...(replay ? { keywatchReplay: true } : {}),
    };
    response = await consumer.handler(event, context);
  } catch (e: unknown) {
    return { kind: 'error', error: errorText(e) };
  }
  if (!settings.reportBatchItemFailures) return { kind: 'ok' };
  const failures =
    isObject(response) && Array.isArray(response.batchItemFailures) ? response.batchItemFailures : [];
  if (failures.length === 0) return { kind: 'ok' };
  const ids: unknown[] = failures.map((f: unknown) => (isObject(f) ? f.itemIdentifier : undefined));
  const positions = ids.map((id) => records.findIndex((r) => r.dynamodb?.SequenceNumber === id));
  const error = `batchItemFailures: ${JSON.stringify(ids)}`;
  // As on Lambda, an identifier that names no record of the batch fails the whole batch.
  if (positions.includes(-1)) return { kind: 'error', error };
  return { kind: 'partial', failedFrom: Math.min(...positions), failed: new Set(ids.map(String)), error };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
