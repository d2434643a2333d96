// The four keywatch functions for the local runtime, built through their factories with the clients
// and configuration the pipeline owns, as each functions/*/handler.ts builds them on Lambda from its
// environment. No handler configuration passes through process.env, so two pipelines (or a pipeline
// and a test) can share a process.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';
import type { AlertPublisher } from '#adapters/alert-publisher.ts';
import { documentClient } from '#adapters/clients.ts';
import { cachedCatalogue, createFieldStore, storedCatalogue } from '#adapters/field-store.ts';
import { createFleetPager } from '#adapters/fleet-pager.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { cachedIngestKeys, createIngestKeyStore } from '#adapters/ingest-key-store.ts';
import { createJobStore } from '#adapters/job-store.ts';
import { localSealer } from '#adapters/key-sealer.ts';
import { createMembershipWriter } from '#adapters/membership-writer.ts';
import { createQueryStore } from '#adapters/query-store.ts';
import { createRepository } from '#adapters/repository.ts';
import { staticSecrets } from '#adapters/secrets.ts';
import { createStatusReads } from '#adapters/status-reads.ts';
import { createTallyStore } from '#adapters/tally-store.ts';
import { createAdminHandler } from '#functions/admin/routes.ts';
import { createEvaluateHandler, type TickEvent } from '#functions/evaluate/app.ts';
import { createEvaluator } from '#functions/evaluate/evaluate.ts';
import { createIngestHandler } from '#functions/ingest/routes.ts';
import { createNotifyHandler } from '#functions/notify/notify.ts';
import type { HttpHandler } from './http-server.ts';

type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

export interface LocalFunctionsConfig {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Admin signing secrets, comma-separated for rotation. */
  readonly secret: string;
  /** 32 bytes sealing ingest keys at rest (KMS does this on AWS). */
  readonly sealKey: Buffer;
  /** How long a looked-up ingest key is trusted (the revocation bound); default 10 s as deployed. */
  readonly keyCacheMs?: number;
  /** How long ingest trusts the field catalogue it read; default 5 s as deployed. */
  readonly fieldCacheMs?: number;
  readonly publisher: AlertPublisher;
  readonly topicArn: string;
  readonly logLevel: LogLevel;
  /** Segments a fleet walk is split into (benchmarks compare); default as deployed. */
  readonly fleetSegments?: number;
}

export interface LocalFunctions {
  readonly ingest: HttpHandler;
  readonly admin: HttpHandler;
  readonly evaluate: (event: DynamoDBStreamEvent | TickEvent, context: Context) => Promise<unknown>;
  readonly notify: (event: DynamoDBStreamEvent, context: Context) => Promise<unknown>;
}

export function localFunctions(config: LocalFunctionsConfig): LocalFunctions {
  const doc = documentClient(config.client);
  const { tableName } = config;
  // One logger per function: injectLambdaContext puts each invocation's context on its logger.
  const logger = (fn: string) => new Logger({ serviceName: `keywatch-${fn}`, logLevel: config.logLevel });
  const secrets = staticSecrets(config.secret);
  const repo = createRepository(doc, tableName);
  const groups = createGroupStore(doc, tableName);

  const fields = createFieldStore(doc, tableName);
  const keys = createIngestKeyStore(doc, tableName, localSealer(config.sealKey));
  // One cache per function, as each Lambda function has its own instances.
  const keyCache = (fn: string) =>
    cachedIngestKeys(keys, {
      ttlMs: config.keyCacheMs ?? 10_000,
      nowMs: Date.now,
      onMarkError: (error) => logger(fn).warn('could not record key use', { error: error as Error }),
    });

  const ingest = createIngestHandler({
    repo,
    // As deployed: the catalogue cached for FIELD_CACHE_MS (5 s) by default.
    catalogue: cachedCatalogue(fields, { ttlMs: config.fieldCacheMs ?? 5_000, nowMs: Date.now }),
    secrets,
    ingestKeys: keyCache('ingest'),
    logger: logger('ingest'),
  });
  const admin = createAdminHandler({
    repo,
    groups,
    catalogue: storedCatalogue(fields),
    fleet: createFleetPager(doc, tableName),
    reads: createQueryStore(doc, tableName),
    tally: createStatusReads(doc, tableName),
    keys,
    ingestKeys: keyCache('admin'),
    nowMs: Date.now,
    secrets,
    logger: logger('admin'),
  });
  const evaluateLogger = logger('evaluate');
  const tally = createTallyStore(doc, tableName);
  const evaluate = createEvaluateHandler({
    logger: evaluateLogger,
    tally,
    evaluator: createEvaluator({
      groups,
      endpoints: repo,
      fleet: createFleetPager(doc, tableName),
      writer: createMembershipWriter(doc, tableName),
      jobs: createJobStore(doc, tableName),
      nowMs: Date.now,
      logger: evaluateLogger,
      // One evaluator instance, reloading on the GROUP record. Its parallel batches share a page
      // barrier (stream-delivery.ts): the fleet job's record is read only after every batch that saw
      // the old definitions has finished, so the walk needs no delay. A delay would also stall the
      // shard, since a job waits for it inside its invocation.
      config: {
        fleetDelayMs: 0,
        ...(config.fleetSegments === undefined ? {} : { fleetSegments: config.fleetSegments }),
      },
    }),
  });
  const notifyLogger = logger('notify');
  const notify = createNotifyHandler({
    publisher: config.publisher,
    topicArn: config.topicArn,
    table: { client: config.client, tableName },
    logger: notifyLogger,
    metrics: withoutCloudWatch(
      () => new Metrics({ namespace: 'Keywatch', serviceName: 'keywatch-notify', logger: QUIET_METRICS }),
    ),
  });

  // middy's handler types carry its own context and callback shapes; the calls are the same.
  return {
    ingest: ingest as unknown as HttpHandler,
    admin: admin as unknown as HttpHandler,
    evaluate: evaluate as unknown as LocalFunctions['evaluate'],
    notify: notify as unknown as LocalFunctions['notify'],
  };
}

/**
 * Metrics' own warnings. Local shards run notify invocations side by side on one Metrics object, so
 * one invocation's flush can take the other's metrics and the other warns "No application metrics to
 * publish", once per batch: with metrics switched off here, that says nothing.
 */
const QUIET_METRICS = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (...args: unknown[]) => console.error(...args),
};

/**
 * There is no CloudWatch here, and each EMF line would flood the console. Powertools Metrics reads
 * its off switch only from the environment, once, in its constructor: set it for that call alone.
 */
function withoutCloudWatch(create: () => Metrics): Metrics {
  const previous = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  try {
    return create();
  } finally {
    if (previous === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = previous;
  }
}
