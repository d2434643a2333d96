// The stream pipeline: evaluate (membership and transitions) and notify (one SNS message per alerted
// transition) consume the table's stream, each through an event filter so it is invoked only for
// the item types it handles. Failures are retried record by record, bisected, bounded, and finally
// parked in an encrypted queue that raises an alarm: nothing is dropped silently.
import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { INDEX } from '../functions/adapters/keys.ts';
import { EVALUATE_FILTERS, NOTIFY_FILTERS } from '../functions/adapters/stream-filters.ts';
import { KeywatchFunction } from './function.ts';

export interface ProcessingProps {
  readonly table: ITable;
  readonly alertTopic: ITopic;
  /** The alert topic's KMS key: publishing to an encrypted topic needs it. */
  readonly alertTopicKey: IKey;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly functionsRoot?: string;
}

/** The payload of the once-a-minute invocation that re-evaluates time-based groups. */
export const TICK_EVENT = { source: 'keywatch.tick' } as const;

/**
 * Stream settings, chosen for the 1 s end-to-end p95 budget (signed POST to published alert).
 *
 * - `maxBatchingWindow` 0: Lambda polls each shard four times a second and invokes as soon as it
 *   has records; any window would be added, whole, to every alert's latency. Under load batches
 *   still fill up by themselves, because records accumulate while the previous batch runs.
 * - `batchSize`: the worst record of a batch waits for all before it. evaluate spends a few
 *   milliseconds per irrelevant record and one transaction (~10–20 ms) per relevant one, so 50
 *   records stay within ~0.5–1 s; notify makes one idempotency write and one Publish (~30 ms)
 *   per record, so 10 records stay within ~0.3 s.
 * - `parallelizationFactor`: Lambda keeps records with the same partition key in order even when
 *   it processes several batches of one shard at once, and evaluate and notify only need
 *   per-item order (an endpoint's reports, a group's definition). Several concurrent batches per
 *   shard keep a company fan-out or a burst of 500-update requests from queueing behind itself.
 * - `startingPosition` TRIM_HORIZON: an event source mapping created after the table (first
 *   deployment, or a replaced mapping) still sees every record the stream holds, so nothing
 *   written in between — such as the group pack seeded at deploy — is skipped. LATEST would drop
 *   them. A replaced mapping replays at most the stream's 24 h: evaluate's writes are conditional
 *   on the stored revisions and notify's idempotency records (7 days) outlive that window.
 * - Retries: ReportBatchItemFailures makes Lambda retry from the first failed record instead of the
 *   whole batch, so records already published are not published again; bisecting isolates a
 *   record that crashes the function (timeout, out of memory). After `retryAttempts` retries or
 *   `maxRecordAge`, the batch's stream coordinates go to the on-failure queue (alarmed) so one
 *   poisoned record cannot hold up its shard for the stream's full 24 h.
 */
export const STREAM_SETTINGS = {
  evaluate: { batchSize: 50, parallelizationFactor: 4 },
  notify: { batchSize: 10, parallelizationFactor: 2 },
  maxBatchingWindow: Duration.seconds(0),
  retryAttempts: 5,
  maxRecordAge: Duration.hours(1),
} as const;

export class Processing extends Construct {
  readonly evaluate: KeywatchFunction;
  readonly notify: KeywatchFunction;
  readonly evaluateFailures: sqs.Queue;
  readonly notifyFailures: sqs.Queue;
  readonly tickRule: events.Rule;

  constructor(scope: Construct, id: string, props: ProcessingProps) {
    super(scope, id);
    const functionsRoot = props.functionsRoot === undefined ? {} : { functionsRoot: props.functionsRoot };

    this.evaluate = new KeywatchFunction(this, 'Evaluate', {
      name: 'evaluate',
      description: 'keywatch: re-evaluates group membership on data changes and every minute',
      // A fan-out job page (endpoint keys from GSI3 / GSI4, items by BatchGetItem) is evaluated and written within
      // one invocation; 60 s leaves room for DynamoDB retries without letting a stuck batch block
      // its shard for long (a timeout counts as a failed attempt and is bisected).
      timeout: Duration.seconds(60),
      // The criteria engine is CPU-bound; 1 GB buys most of a vCPU, which shortens every batch.
      memorySize: 1024,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      ...functionsRoot,
    }).bindTable(
      props.table,
      [
        'dynamodb:GetItem',
        'dynamodb:BatchGetItem',
        'dynamodb:Query',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:TransactWriteItems',
      ],
      // GSI3 / GSI4 page the endpoints of a company / the fleet.
      { indexes: [INDEX.endpointsByParent, INDEX.fleet] },
    );

    this.notify = new KeywatchFunction(this, 'Notify', {
      name: 'notify',
      description: 'keywatch: publishes one SNS alert per alerted transition',
      // A batch of 10 Publish calls takes well under a second; 30 s covers SNS retries.
      timeout: Duration.seconds(30),
      // I/O-bound: the smallest size whose CPU does not slow down JSON and TLS work noticeably.
      memorySize: 256,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      ...functionsRoot,
    })
      // Powertools idempotency records only (same table, PK / SK): no Query, Scan or batch writes.
      .bindTable(props.table, [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
      ])
      .bindAlertTopic(props.alertTopic, props.alertTopicKey);

    this.evaluateFailures = this.failureQueue('EvaluateFailures');
    this.notifyFailures = this.failureQueue('NotifyFailures');

    this.evaluate.function.addEventSource(
      new DynamoEventSource(props.table, {
        ...this.commonStreamSettings(this.evaluateFailures),
        ...STREAM_SETTINGS.evaluate,
        filters: EVALUATE_FILTERS.map((pattern) => lambda.FilterCriteria.filter(pattern)),
      }),
    );
    this.notify.function.addEventSource(
      new DynamoEventSource(props.table, {
        ...this.commonStreamSettings(this.notifyFailures),
        ...STREAM_SETTINGS.notify,
        filters: NOTIFY_FILTERS.map((pattern) => lambda.FilterCriteria.filter(pattern)),
      }),
    );

    // Time-based groups ("Older than days", "Last Report") change membership with the clock alone.
    // A missed tick is replaced by the next one a minute later, so a stale tick is worth nothing:
    // EventBridge retries delivery briefly and the monitoring construct alarms on failed deliveries.
    this.tickRule = new events.Rule(this, 'TickRule', {
      description: 'keywatch: re-evaluate time-based groups every minute',
      schedule: events.Schedule.rate(Duration.minutes(1)),
    });
    this.tickRule.addTarget(
      new targets.LambdaFunction(this.evaluate.function, {
        event: events.RuleTargetInput.fromObject(TICK_EVENT),
        retryAttempts: 2,
        maxEventAge: Duration.minutes(1),
      }),
    );
    // The tick is invoked asynchronously; Lambda's own retries would only deliver it late.
    this.evaluate.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
  }

  private commonStreamSettings(onFailure: sqs.IQueue) {
    return {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      maxBatchingWindow: STREAM_SETTINGS.maxBatchingWindow,
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: STREAM_SETTINGS.retryAttempts,
      maxRecordAge: STREAM_SETTINGS.maxRecordAge,
      onFailure: new SqsDlq(onFailure),
    };
  }

  /**
   * Receives the stream coordinates (shard, sequence numbers) of batches that exhausted their
   * retries. Kept 14 days, but the records themselves stay in the stream for 24 h only: the alarm
   * on this queue is the operator's cue to replay them (docs/deploy.md, "When an alarm fires").
   */
  private failureQueue(id: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter destination (the on-failure destination of a stream event source mapping, which cdk-nag does not recognise as a DLQ); its depth is alarmed.',
    });
    return queue;
  }
}
