import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  type AttributeValue as StreamAttributeValue,
  type _Record as StreamsRecord,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue, Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { lambdaContext } from './lambda-context.ts';

export type FilterPattern = Readonly<Record<string, unknown>>;

export interface StreamConsumer {
  /** Shown in logs and used as the function name in the handler's context. */
  readonly name: string;
  /** Lambda filter criteria: a record is delivered when it matches any pattern; none given: all. */
  readonly filters?: readonly FilterPattern[];
  /** Answers like a Lambda handler: nothing, or `{ batchItemFailures }` (ReportBatchItemFailures). */
  readonly handler: (event: DynamoDBStreamEvent, context: Context) => Promise<unknown>;
  readonly batchSize: number;
  /** Invocations of one batch before it is given up (Lambda's retry attempts + 1). Default 10. */
  readonly maxAttempts?: number;
}

/** What the stack's on-failure destination receives for a batch given up, plus its records. */
export interface FailedBatch {
  readonly consumer: string;
  readonly requestContext: { condition: 'RetryAttemptsExhausted'; approximateInvokeCount: number };
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

export interface StreamPollerOptions {
  readonly client: DynamoDBStreamsClient;
  readonly tableStreamArn: string;
  readonly consumers: readonly StreamConsumer[];
  /** Pause after a poll that found nothing; Lambda polls about 4 times a second. */
  readonly pollIntervalMs?: number;
  readonly discoveryIntervalMs?: number;
  /** Where shards open when the poller starts are read from; shards found later: TRIM_HORIZON. */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** First retry delay; doubles per attempt up to 2 s. */
  readonly retryBackoffMs?: number;
  /** Handler timeout reported by the context's getRemainingTimeInMillis (not enforced). */
  readonly timeoutMs?: number;
  readonly onFailedBatch?: (failure: FailedBatch) => void;
  readonly log?: (message: string, details?: Record<string, unknown>) => void;
}

export interface ConsumerStats {
  invocations: number;
  recordsDelivered: number;
  failedInvocations: number;
  batchesGivenUp: number;
}

export interface StreamPoller {
  /** Resolves once every shard has been polled empty, after the call and after the last delivery. */
  drained(): Promise<void>;
  stats(): { shards: number; consumers: Record<string, ConsumerStats> };
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Filter patterns: the subset of EventBridge pattern syntax Lambda filter criteria accept that
// keywatch can use: nested objects, arrays of allowed exact values, and the `exists`, `prefix` and
// `anything-but` rules. Anything else throws, so a pattern the stack accepts is never silently
// treated differently here.

export function matchesFilter(record: unknown, pattern: FilterPattern): boolean {
  for (const [key, expected] of Object.entries(pattern)) {
    const actual = isObject(record) ? record[key] : undefined;
    if (Array.isArray(expected)) {
      if (!matchesAllowed(actual, expected)) return false;
    } else if (isObject(expected)) {
      if (!isObject(actual) || !matchesFilter(actual, expected)) return false;
    } else {
      throw new Error(`Filter pattern "${key}": expected an object or an array of values`);
    }
  }
  return true;
}

function matchesAllowed(actual: unknown, allowed: readonly unknown[]): boolean {
  // As in EventBridge, an array value matches when any of its elements does.
  const candidates = Array.isArray(actual) ? actual : [actual];
  return allowed.some((rule) =>
    isObject(rule) ? matchesRule(actual, rule) : candidates.some((c) => c !== undefined && c === rule),
  );
}

function matchesRule(actual: unknown, rule: Record<string, unknown>): boolean {
  const [name, arg, ...rest] = Object.entries(rule).flat();
  if (rest.length > 0) throw new Error(`Filter rule ${JSON.stringify(rule)}: one operator per rule`);
  switch (name) {
    case 'exists':
      return typeof arg === 'boolean' && (actual !== undefined) === arg;
    case 'prefix':
      return typeof arg === 'string' && typeof actual === 'string' && actual.startsWith(arg);
    case 'anything-but': {
      const excluded = Array.isArray(arg) ? arg : [arg];
      return actual !== undefined && !isObject(actual) && !excluded.includes(actual);
    }
    default:
      throw new Error(`Filter rule ${JSON.stringify(rule)} is not supported by the local stream poller`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Records as Lambda delivers them.

export function toLambdaRecord(record: StreamsRecord, streamArn: string): DynamoDBRecord {
  const d = record.dynamodb ?? {};
  const dynamodb: NonNullable<DynamoDBRecord['dynamodb']> = {};
  if (d.ApproximateCreationDateTime !== undefined) {
    dynamodb.ApproximateCreationDateTime = Math.floor(d.ApproximateCreationDateTime.getTime() / 1000);
  }
  if (d.Keys !== undefined) dynamodb.Keys = toLambdaImage(d.Keys);
  if (d.NewImage !== undefined) dynamodb.NewImage = toLambdaImage(d.NewImage);
  if (d.OldImage !== undefined) dynamodb.OldImage = toLambdaImage(d.OldImage);
  if (d.SequenceNumber !== undefined) dynamodb.SequenceNumber = d.SequenceNumber;
  if (d.SizeBytes !== undefined) dynamodb.SizeBytes = d.SizeBytes;
  if (d.StreamViewType !== undefined) dynamodb.StreamViewType = d.StreamViewType;
  const out: DynamoDBRecord = {
    eventID: record.eventID ?? '',
    eventName: record.eventName ?? 'MODIFY',
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: record.eventSource ?? 'aws:dynamodb',
    awsRegion: record.awsRegion ?? regionOf(streamArn),
    dynamodb,
    eventSourceARN: streamArn,
  };
  if (record.userIdentity !== undefined) {
    out.userIdentity = { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId };
  }
  return out;
}

function regionOf(arn: string): string {
  return arn.split(':')[3] ?? '';
}

/** The SDK decodes binary to bytes; Lambda's JSON event carries it as base64. */
function toLambdaImage(image: Record<string, StreamAttributeValue>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([k, v]) => [k, toLambdaValue(v)]));
}

function toLambdaValue(v: StreamAttributeValue): AttributeValue {
  if (v.B !== undefined) return { B: Buffer.from(v.B).toString('base64') };
  if (v.BS !== undefined) return { BS: v.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (v.M !== undefined) return { M: toLambdaImage(v.M) };
  if (v.L !== undefined) return { L: v.L.map(toLambdaValue) };
  return v as AttributeValue;
}

// ---------------------------------------------------------------------------------------------

interface ShardInfo {
  readonly shardId: string;
  readonly parentShardId: string | undefined;
}

/** One consumer's position in one shard. */
interface ShardTask {
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

interface Wakeable {
  sleep(ms: number): Promise<void>;
  wake(): void;
}

function wakeable(): Wakeable {
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

const GET_RECORDS_LIMIT = 1000;
const MAX_BACKOFF_MS = 2_000;

export function startStreamPoller(options: StreamPollerOptions): StreamPoller {
  const {
    client,
    tableStreamArn: streamArn,
    consumers,
    pollIntervalMs = 250,
    discoveryIntervalMs = 1_000,
    startingPosition = 'TRIM_HORIZON',
    retryBackoffMs = 100,
    timeoutMs = 30_000,
  } = options;
  const log =
    options.log ??
    ((message: string, details?: Record<string, unknown>) =>
      console.error(`[stream-poller] ${message}`, details === undefined ? '' : JSON.stringify(details)));
  const onFailedBatch =
    options.onFailedBatch ??
    ((failure: FailedBatch) => log(`${failure.consumer}: batch given up after retries`, { ...failure }));

  let running = true;
  let tick = 0;
  let lastDeliveryTick = 0;
  let firstDiscovery = true;
  const shards = new Map<string, ShardInfo>();
  const tasks = new Map<string, ShardTask>(); // `${consumer}\u0000${shardId}`
  const loops = new Set<Promise<void>>();
  const stats: Record<string, ConsumerStats> = Object.fromEntries(
    consumers.map((c) => [
      c.name,
      { invocations: 0, recordsDelivered: 0, failedInvocations: 0, batchesGivenUp: 0 },
    ]),
  );
  const stateWatchers = new Set<() => void>();
  const changed = () => {
    for (const watcher of [...stateWatchers]) watcher();
  };
  const taskKey = (consumer: string, shardId: string) => `${consumer}\u0000${shardId}`;

  // --- discovery ---------------------------------------------------------------------------
  const discovery = wakeable();
  let discoveryWaiters: (() => void)[] = [];

  async function describeAll(): Promise<void> {
    let exclusiveStartShardId: string | undefined;
    do {
      const out = await client.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      );
      for (const shard of out.StreamDescription?.Shards ?? []) {
        if (shard.ShardId === undefined || shards.has(shard.ShardId)) continue;
        shards.set(shard.ShardId, { shardId: shard.ShardId, parentShardId: shard.ParentShardId });
      }
      exclusiveStartShardId = out.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId !== undefined && running);
    const position = firstDiscovery ? startingPosition : 'TRIM_HORIZON';
    firstDiscovery = false;
    for (const shard of shards.values()) {
      for (const consumer of consumers) {
        const key = taskKey(consumer.name, shard.shardId);
        if (tasks.has(key)) continue;
        const task: ShardTask = {
          consumer,
          shard,
          initialPosition: position,
          checkpoint: undefined,
          done: false,
          waitingForParent: false,
          inFlight: false,
          lastPollTick: 0,
          lastPollEmpty: false,
          wake: wakeable(),
        };
        tasks.set(key, task);
        track(runTask(task));
      }
    }
  }

  async function discoveryLoop(): Promise<void> {
    while (running) {
      const waiters = discoveryWaiters;
      discoveryWaiters = [];
      try {
        await describeAll();
      } catch (e: unknown) {
        if (running) log('DescribeStream failed', { error: errorText(e) });
      }
      for (const resolve of waiters) resolve();
      changed();
      if (discoveryWaiters.length === 0) await discovery.sleep(discoveryIntervalMs);
    }
    for (const resolve of discoveryWaiters.splice(0)) resolve();
  }

  /** A discovery pass that starts after this call. */
  function discoverNow(): Promise<void> {
    if (!running) return Promise.resolve();
    return new Promise((resolve) => {
      discoveryWaiters.push(resolve);
      discovery.wake();
    });
  }

  // --- reading one shard for one consumer ---------------------------------------------------
  function parentDone(task: ShardTask): boolean {
    const parentId = task.shard.parentShardId;
    // A parent the stream does not describe has been trimmed: nothing of it is left to read first.
    if (parentId === undefined || !shards.has(parentId)) return true;
    return tasks.get(taskKey(task.consumer.name, parentId))?.done === true;
  }

  async function iteratorFor(task: ShardTask): Promise<string | undefined> {
    const position =
      task.checkpoint === undefined
        ? { ShardIteratorType: task.initialPosition }
        : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, SequenceNumber: task.checkpoint };
    const out = await client.send(
      new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: task.shard.shardId, ...position }),
    );
    return out.ShardIterator;
  }

  async function runTask(task: ShardTask): Promise<void> {
    const label = { consumer: task.consumer.name, shardId: task.shard.shardId };
    task.waitingForParent = true;
    while (running && !parentDone(task)) await task.wake.sleep(pollIntervalMs);
    task.waitingForParent = false;
    let iterator: string | undefined;
    let errors = 0;
    while (running) {
      try {
        iterator ??= await iteratorFor(task);
        if (iterator === undefined) break;
        const pollTick = ++tick;
        const out = await client.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: GET_RECORDS_LIMIT }),
        );
        errors = 0;
        const records = out.Records ?? [];
        if (records.length > 0) {
          task.inFlight = true;
          try {
            await deliver(task, records);
          } finally {
            task.inFlight = false;
            lastDeliveryTick = ++tick;
          }
        }
        task.lastPollTick = pollTick;
        task.lastPollEmpty = records.length === 0;
        iterator = out.NextShardIterator;
        if (iterator === undefined) break; // closed shard read to its end
        changed();
        if (records.length === 0) await task.wake.sleep(pollIntervalMs);
      } catch (e: unknown) {
        if (!running) break;
        iterator = undefined; // re-acquired from the checkpoint
        if (e instanceof ResourceNotFoundException) break; // shard trimmed away
        if (e instanceof TrimmedDataAccessException) {
          log('Records trimmed before they were read; continuing at the trim horizon', label);
          task.checkpoint = undefined;
        } else if (!(e instanceof ExpiredIteratorException)) {
          errors++;
          log('Reading the stream failed; retrying', { ...label, error: errorText(e) });
          await task.wake.sleep(backoff(errors));
        }
      }
    }
    if (running) {
      task.done = true;
      // Its children may start now; a closed shard also means new shards to discover.
      for (const other of tasks.values()) other.wake.wake();
      void discoverNow();
    }
    changed();
  }

  async function deliver(task: ShardTask, records: StreamsRecord[]): Promise<void> {
    const { consumer } = task;
    const filters = consumer.filters ?? [];
    const selected = records
      .map((r) => toLambdaRecord(r, streamArn))
      .filter((r) => filters.length === 0 || filters.some((p) => matchesFilter(r, p)));
    for (let i = 0; i < selected.length && running; i += consumer.batchSize) {
      const batch = selected.slice(i, i + consumer.batchSize);
      await deliverBatch(task, batch);
      if (!running) return;
      task.checkpoint = batch.at(-1)?.dynamodb?.SequenceNumber ?? task.checkpoint;
    }
    if (running) task.checkpoint = records.at(-1)?.dynamodb?.SequenceNumber ?? task.checkpoint;
  }

  async function deliverBatch(task: ShardTask, batch: DynamoDBRecord[]): Promise<void> {
    const { consumer } = task;
    const consumerStats = stats[consumer.name]!;
    const maxAttempts = consumer.maxAttempts ?? 10;
    let pending = batch;
    for (let attempt = 1; running; attempt++) {
      consumerStats.invocations++;
      const outcome = await invoke(consumer, pending);
      if (outcome.failedFrom === undefined) {
        consumerStats.recordsDelivered += pending.length;
        return;
      }
      consumerStats.failedInvocations++;
      consumerStats.recordsDelivered += outcome.failedFrom;
      // Lambda checkpoints just before the lowest failed record and retries from there.
      pending = pending.slice(outcome.failedFrom);
      if (attempt >= maxAttempts) {
        consumerStats.batchesGivenUp++;
        onFailedBatch({
          consumer: consumer.name,
          requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: attempt },
          DDBStreamBatchInfo: {
            shardId: task.shard.shardId,
            startSequenceNumber: pending[0]?.dynamodb?.SequenceNumber ?? '',
            endSequenceNumber: pending.at(-1)?.dynamodb?.SequenceNumber ?? '',
            batchSize: pending.length,
            streamArn,
          },
          error: outcome.error,
          records: pending,
        });
        return;
      }
      await task.wake.sleep(backoff(attempt));
    }
  }

  async function invoke(
    consumer: StreamConsumer,
    records: DynamoDBRecord[],
  ): Promise<{ failedFrom: undefined } | { failedFrom: number; error: string }> {
    let response: unknown;
    try {
      response = await consumer.handler({ Records: records }, lambdaContext(consumer.name, timeoutMs, 1024));
    } catch (e: unknown) {
      return { failedFrom: 0, error: errorText(e) };
    }
    const failures =
      isObject(response) && Array.isArray(response.batchItemFailures) ? response.batchItemFailures : [];
    if (failures.length === 0) return { failedFrom: undefined };
    // As on Lambda, an identifier that names no record of the batch fails the whole batch.
    const ids: unknown[] = failures.map((f: unknown) => (isObject(f) ? f.itemIdentifier : undefined));
    const positions = ids.map((id) => records.findIndex((r) => r.dynamodb?.SequenceNumber === id));
    const failedFrom = positions.includes(-1) ? 0 : Math.min(...positions);
    return { failedFrom, error: `batchItemFailures: ${JSON.stringify(ids)}` };
  }

  function backoff(attempt: number): number {
    return Math.min(retryBackoffMs * 2 ** (attempt - 1), MAX_BACKOFF_MS);
  }

  function track(loop: Promise<void>): void {
    const tracked = loop.catch((e: unknown) => log('Stream poller loop crashed', { error: errorText(e) }));
    loops.add(tracked);
    void tracked.finally(() => loops.delete(tracked));
  }

  // --- caught up? ----------------------------------------------------------------------------
  function quietSince(mark: number): boolean {
    for (const task of tasks.values()) {
      if (task.done || task.waitingForParent) continue;
      if (task.inFlight || !task.lastPollEmpty || task.lastPollTick <= mark) return false;
    }
    return true;
  }

  function until(predicate: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!running || predicate()) {
          stateWatchers.delete(check);
          resolve();
        }
      };
      stateWatchers.add(check);
      check();
    });
  }

  track(discoveryLoop());

  return {
    async drained() {
      for (;;) {
        const mark = ++tick;
        await discoverNow();
        for (const task of tasks.values()) task.wake.wake();
        await until(() => quietSince(mark));
        // A delivery during the wait may have written records other consumers polled too early for.
        if (!running || lastDeliveryTick < mark) return;
      }
    },
    stats() {
      return { shards: shards.size, consumers: structuredClone(stats) };
    },
    async stop() {
      running = false;
      discovery.wake();
      for (const task of tasks.values()) task.wake.wake();
      changed();
      while (loops.size > 0) await Promise.all([...loops]);
    },
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
