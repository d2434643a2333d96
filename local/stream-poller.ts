// The local stand-in for Lambda's event source mappings on the table's stream: discovers shards,
// reads each one for each consumer (stream-shard.ts: a parent to its end before its children), and
// hands every page of records to stream-delivery.ts, which batches and invokes as Lambda does.
// `drained()` tells tests and benchmarks when everything written so far has been delivered.
import { DescribeStreamCommand, type DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { TABLE_SCHEMA } from '#adapters/keys.ts';
import type { CheckpointStore } from './stream-checkpoints.ts';
import {
  type ConsumerStats,
  type DeliveryContext,
  errorText,
  type FailedBatch,
  type StreamConsumer,
} from './stream-delivery.ts';
import { readShard, type ShardInfo, type ShardReading, type ShardTask, wakeable } from './stream-shard.ts';

export type { StreamConsumer } from './stream-delivery.ts';

export interface StreamPollerOptions {
  readonly client: DynamoDBStreamsClient;
  readonly tableStreamArn: string;
  readonly consumers: readonly StreamConsumer[];
  /** Pause after a poll that found nothing; Lambda polls about 4 times a second. */
  readonly pollIntervalMs?: number;
  readonly discoveryIntervalMs?: number;
  /** For consumers that name none: where shards open at start are read from (later ones: TRIM_HORIZON). */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** First retry delay; doubles per attempt up to 2 s. */
  readonly retryBackoffMs?: number;
  /** The table's partition key attribute (default the keywatch table's). */
  readonly partitionKey?: string;
  readonly onFailedBatch?: (failure: FailedBatch) => void;
  /** Where each consumer resumes after a restart (default: the starting position, every time). */
  readonly checkpoints?: CheckpointStore;
  readonly log?: (message: string, details?: Record<string, unknown>) => void;
}

export interface StreamPoller {
  /** Resolves once every shard has been polled empty, after the call and after the last delivery. */
  drained(): Promise<void>;
  stats(): { shards: number; consumers: Record<string, ConsumerStats> };
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 2_000;

export function startStreamPoller(options: StreamPollerOptions): StreamPoller {
  const {
    client,
    tableStreamArn: streamArn,
    consumers,
    pollIntervalMs = 250,
    discoveryIntervalMs = 1_000,
    retryBackoffMs = 100,
    partitionKey = TABLE_SCHEMA.partitionKey,
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
    const atStart = firstDiscovery;
    firstDiscovery = false;
    for (const shard of shards.values()) {
      for (const consumer of consumers) {
        const key = taskKey(consumer.name, shard.shardId);
        if (tasks.has(key)) continue;
        const task: ShardTask = {
          consumer,
          shard,
          initialPosition: atStart
            ? (consumer.startingPosition ?? options.startingPosition ?? 'TRIM_HORIZON')
            : 'TRIM_HORIZON',
          checkpoint: options.checkpoints?.get(consumer.name, shard.shardId),
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

  // --- reading each shard for each consumer -------------------------------------------------
  function parentDone(task: ShardTask): boolean {
    const parentId = task.shard.parentShardId;
    // A parent the stream does not describe has been trimmed: nothing of it is left to read first.
    if (parentId === undefined || !shards.has(parentId)) return true;
    return tasks.get(taskKey(task.consumer.name, parentId))?.done === true;
  }

  const reading: ShardReading = {
    client,
    streamArn,
    pollIntervalMs,
    running: () => running,
    parentDone,
    tick: () => ++tick,
    delivered: () => {
      lastDeliveryTick = ++tick;
    },
    checkpointed: (task) => {
      if (task.checkpoint !== undefined) {
        options.checkpoints?.save(task.consumer.name, task.shard.shardId, task.checkpoint);
      }
    },
    changed,
    backoffMs: backoff,
    deliveryContext,
    log,
  };

  async function runTask(task: ShardTask): Promise<void> {
    await readShard(task, reading);
    if (running) {
      task.done = true;
      // Its children may start now; a closed shard also means new shards to discover.
      for (const other of tasks.values()) other.wake.wake();
      void discoverNow();
    }
    changed();
  }

  function deliveryContext(task: ShardTask): DeliveryContext {
    return {
      consumer: task.consumer,
      shardId: task.shard.shardId,
      streamArn,
      partitionKey,
      stats: stats[task.consumer.name]!,
      running: () => running,
      backoff: (attempt) => task.wake.sleep(backoff(attempt)),
      onFailedBatch,
    };
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
