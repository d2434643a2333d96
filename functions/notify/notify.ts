// The notify function, built from its dependencies: one alert per recorded transition whose group asks
// for one. handler.ts wires it for Lambda (SNS); the local runtime wires it with the file sink. Kept
// apart from handler.ts so importing the factory never reads Lambda's environment.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import middy from '@middy/core';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type AlertPublisher, publishInputFor } from '#adapters/alert-publisher.ts';
import { optionalEnv } from '#adapters/config.ts';
import { ITEM } from '#adapters/keys.ts';
import { type Transition, TransitionSchema } from '#core/transition.ts';

/** Idempotency records share the table, in one partition of their own (TTL attribute `expiresAt`). */
export const IDEMPOTENCY_PK = 'IDEMPOTENCY#notify';
/** Longer than any stream redelivery (records live 24 h; retries stop well before). */
const IDEMPOTENCY_EXPIRY_SECONDS = 7 * 24 * 3600;

export interface NotifyDependencies {
  readonly publisher: AlertPublisher;
  readonly topicArn: string;
  /** Where publishes are remembered, so a redelivered transition is not published again. */
  readonly table: { readonly client: DynamoDBClient; readonly tableName: string };
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

type NotifyHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;

/** A transition record whose stored shape does not match the contract: fails its record. */
export class InvalidTransitionError extends Error {
  override readonly name = 'InvalidTransitionError';
  readonly issues: readonly { path: string; message: string }[];
  constructor(issues: readonly { path: string; message: string }[]) {
    super(`Invalid transition record: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.issues = issues;
  }
}

/**
 * The transition to alert on, or undefined for a record the notify filter should not have passed
 * (anything but a newly inserted transition with `alert: true`): those are skipped, not failed.
 */
function alertedTransition(record: DynamoDBRecord): Transition | undefined {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || image === undefined) return undefined;
  if (image.type?.S !== ITEM.transition || image.alert?.BOOL !== true) return undefined;
  const parsed = TransitionSchema.safeParse(unmarshall(image as Parameters<typeof unmarshall>[0]));
  if (!parsed.success) {
    throw new InvalidTransitionError(
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  return parsed.data;
}

/** Attempts at writing an idempotency record's outcome (on top of the SDK's own retries). */
const OUTCOME_WRITE_ATTEMPTS = 6;

/**
 * Powertools' DynamoDB persistence, but the two writes that follow a publish attempt are retried.
 * When the "completed" write fails after a publish, Powertools fails the record; the record stays
 * "in progress" until this invocation's deadline, and any delivery after that (the stream's retry of
 * the batch, a replay of a parked batch) publishes the alert a second time. When the delete after a
 * failed publish fails, the record is held up until that deadline and its batch may be parked.
 * Retrying in place costs a few hundred milliseconds in the rare case and closes both.
 */
class SteadfastPersistenceLayer extends DynamoDBPersistenceLayer {
  protected override _updateRecord(record: IdempotencyRecord): Promise<void> {
    return persist(() => super._updateRecord(record));
  }

  protected override _deleteRecord(record: IdempotencyRecord): Promise<void> {
    return persist(() => super._deleteRecord(record));
  }
}

async function persist(write: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (e: unknown) {
      if (attempt >= OUTCOME_WRITE_ATTEMPTS) throw e;
      await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt * (0.5 + Math.random() / 2)));
    }
  }
}

export function createNotifyHandler(deps: NotifyDependencies) {
  const logger = deps.logger ?? new Logger({ serviceName: 'keywatch-notify' });
  const metrics =
    deps.metrics ??
    new Metrics({
      namespace: optionalEnv('POWERTOOLS_METRICS_NAMESPACE') ?? 'Keywatch',
      serviceName: 'keywatch-notify',
      logger,
    });
  const idempotency = new IdempotencyConfig({
    eventKeyJmesPath: 'transitionId',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: IDEMPOTENCY_EXPIRY_SECONDS,
  });
  const persistenceStore = new SteadfastPersistenceLayer({
    tableName: deps.table.tableName,
    keyAttr: 'PK',
    sortKeyAttr: 'SK',
    staticPkValue: IDEMPOTENCY_PK,
    // Powertools writes epoch seconds here, which is what the table's TTL reads.
    expiryAttr: 'expiresAt',
    awsSdkV3Client: deps.table.client,
  });

  // Runs at most once per transition id: Powertools records it in progress before publishing and
  // completed after; a failed publish deletes the record so the retry publishes.
  const publishOnce = makeIdempotent(
    async (transition: Transition) => {
      await deps.publisher.publish(publishInputFor(transition, deps.topicArn));
      metrics.addMetric('AlertsPublished', MetricUnit.Count, 1);
      logger.info('Alert published', {
        transitionId: transition.transitionId,
        groupId: transition.groupId,
        endpointId: transition.endpointId,
        event: transition.event,
      });
      return { transitionId: transition.transitionId };
    },
    // A fixed prefix, not the function name, so a renamed function still recognises its records.
    { persistenceStore, config: idempotency, keyPrefix: 'notify' },
  );

  const recordHandler = async (record: DynamoDBRecord): Promise<void> => {
    const transition = alertedTransition(record);
    if (transition === undefined) {
      logger.warn('Skipped a record that is not an alerted transition', { eventID: record.eventID });
      return;
    }
    await publishOnce(transition);
  };

  const handler: NotifyHandler = async (event, context) => {
    deps.publisher.prepare?.();
    // Lets Powertools expire an in-progress record when this invocation times out mid-publish.
    idempotency.registerLambdaContext(context);
    // Every invocation reports at least this, so none logs "no metrics to publish".
    metrics.addMetric('TransitionsReceived', MetricUnit.Count, event.Records.length);
    // A processor per invocation: it holds the batch's state, and the local poller may run several
    // invocations (one per shard) at once in one process.
    const processor = new BatchProcessor(EventType.DynamoDBStreams);
    return processPartialResponse(event, recordHandler, processor, {
      context,
      // Publish in stream order; the failed record and what follows is retried, not what preceded.
      processInParallel: false,
      // All records failed: answer with all of them rather than throw; Lambda retries the same way.
      throwOnFullBatchFailure: false,
    });
  };

  return middy(handler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
