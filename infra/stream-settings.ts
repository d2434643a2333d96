// How Lambda feeds the table's stream to evaluate and notify, in plain values. infra/processing.ts
// turns them into event source mappings; local/pipeline.ts hands the same values to the local stream
// poller, so `npm start` batches, retries, bisects and parallelises as the stack does. This module
// must not import aws-cdk-lib: the local runtime loads it (test/infra/stream-settings.test.ts checks).
import { EVALUATE_FILTERS, NOTIFY_FILTERS } from '../functions/adapters/stream-filters.ts';

/** The settings of one event source mapping, named after their CloudFormation properties. */
export interface StreamConsumerSettings {
  /** Lambda filter criteria: a record is delivered when it matches any pattern. */
  readonly filters: readonly Readonly<Record<string, unknown>>[];
  readonly batchSize: number;
  /** Concurrent batches per shard; records with the same partition key stay in order. */
  readonly parallelizationFactor: number;
  readonly maxBatchingWindowSeconds: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** The function answers `{ batchItemFailures }` and Lambda retries from the lowest failed record. */
  readonly reportBatchItemFailures: boolean;
  /** On a function error, the batch is split in two and each half retried on its own. */
  readonly bisectBatchOnError: boolean;
  /** Retries of a failing batch before its coordinates go to the on-failure destination. */
  readonly retryAttempts: number;
  /** A failing batch holding a record older than this goes to the on-failure destination. */
  readonly maxRecordAgeSeconds: number;
  /** The function's timeout: Lambda counts a batch that runs longer as failed. */
  readonly timeoutSeconds: number;
}

/**
 * Chosen for the 1 s end-to-end p95 budget (signed POST to published alert).
 *
 * - `maxBatchingWindowSeconds` 0: Lambda polls each shard four times a second and invokes as soon as
 *   it has records; any window would be added, whole, to every alert's latency. Under load batches
 *   still fill up by themselves, because records accumulate while the previous batch runs.
 * - `batchSize`: the worst record of a batch waits for all before it. evaluate spends a few
 *   milliseconds per irrelevant record and one transaction (~10–20 ms) per relevant one, so 50
 *   records stay within ~0.5–1 s; notify makes one idempotency write and one Publish (~30 ms)
 *   per record, so 10 records stay within ~0.3 s.
 * - `parallelizationFactor`: evaluate and notify only need per-item order (an endpoint's reports, a
 *   group's definition), which Lambda keeps per partition key. Several concurrent batches per shard
 *   keep a company fan-out or a burst of 500-update requests from queueing behind itself.
 * - `startingPosition` TRIM_HORIZON: a mapping created after the table (first deployment, or a
 *   replaced mapping) still sees every record the stream holds, so nothing written in between — such
 *   as the group pack seeded at deploy — is skipped. A replaced mapping replays at most the stream's
 *   24 h: evaluate's writes are conditional on the stored revisions and notify's idempotency records
 *   (7 days) outlive that window.
 * - Retries: partial batch responses make Lambda retry from the first failed record instead of the
 *   whole batch, so records already published are not published again; bisecting isolates a record
 *   that crashes the function (timeout, out of memory). After `retryAttempts` retries or
 *   `maxRecordAgeSeconds`, the batch goes to the on-failure queue (alarmed) so one poisoned record
 *   cannot hold up its shard for the stream's full 24 h.
 * - `timeoutSeconds`: evaluate works through a fan-out job page (endpoint keys from GSI3 / GSI4, items
 *   by BatchGetItem) within one invocation; 60 s leaves room for DynamoDB retries without letting a
 *   stuck batch block its shard for long. notify's 10 Publish calls take well under a second; 30 s
 *   covers SNS retries.
 */
const COMMON = {
  maxBatchingWindowSeconds: 0,
  startingPosition: 'TRIM_HORIZON',
  reportBatchItemFailures: true,
  bisectBatchOnError: true,
  retryAttempts: 5,
  maxRecordAgeSeconds: 3_600,
} as const;

export const STREAM_CONSUMERS = {
  /** Data changes: endpoint writes by ingest, companies, sites, groups (and their deletion), jobs. */
  evaluate: {
    ...COMMON,
    filters: EVALUATE_FILTERS,
    batchSize: 50,
    parallelizationFactor: 4,
    timeoutSeconds: 60,
  },
  /** Newly recorded transitions whose group's policy asks for an alert. */
  notify: {
    ...COMMON,
    filters: NOTIFY_FILTERS,
    batchSize: 10,
    parallelizationFactor: 2,
    timeoutSeconds: 30,
  },
} as const satisfies Record<string, StreamConsumerSettings>;

/**
 * The once-a-minute invocation of evaluate that re-evaluates time-based groups ("Older than days",
 * "Last Report"): membership that changes with the clock alone.
 */
export const TICK = { event: { source: 'keywatch.tick' }, everySeconds: 60 } as const;
