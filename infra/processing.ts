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
import { KeywatchFunction } from './function.ts';
import { STREAM_CONSUMERS, type StreamConsumerSettings, TICK } from './stream-settings.ts';

export interface ProcessingProps {
  readonly table: ITable;
  readonly alertTopic: ITopic;
  /** The alert topic's KMS key: publishing to an encrypted topic needs it. */
  readonly alertTopicKey: IKey;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly functionsRoot?: string;
}

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
      timeout: Duration.seconds(STREAM_CONSUMERS.evaluate.timeoutSeconds),
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
      // GSI3 / GSI4 page the endpoints of a company / the fleet; GSI5 those due for the minute tick.
      { indexes: [INDEX.endpointsByParent, INDEX.fleet, INDEX.due] },
    );

    this.notify = new KeywatchFunction(this, 'Notify', {
      name: 'notify',
      description: 'keywatch: publishes one SNS alert per alerted transition',
      timeout: Duration.seconds(STREAM_CONSUMERS.notify.timeoutSeconds),
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
      streamSource(props.table, STREAM_CONSUMERS.evaluate, this.evaluateFailures),
    );
    this.notify.function.addEventSource(
      streamSource(props.table, STREAM_CONSUMERS.notify, this.notifyFailures),
    );

    // Time-based groups ("Older than days", "Last Report") change membership with the clock alone.
    // A missed tick is replaced by the next one a minute later, so a stale tick is worth nothing:
    // EventBridge retries delivery briefly and the monitoring construct alarms on failed deliveries.
    this.tickRule = new events.Rule(this, 'TickRule', {
      description: 'keywatch: re-evaluate time-based groups every minute',
      schedule: events.Schedule.rate(Duration.seconds(TICK.everySeconds)),
    });
    this.tickRule.addTarget(
      new targets.LambdaFunction(this.evaluate.function, {
        event: events.RuleTargetInput.fromObject(TICK.event),
        retryAttempts: 2,
        maxEventAge: Duration.minutes(1),
      }),
    );
    // The tick is invoked asynchronously; Lambda's own retries would only deliver it late.
    this.evaluate.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
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

/** The event source mapping of one consumer; the settings and why they were chosen: stream-settings.ts. */
function streamSource(table: ITable, settings: StreamConsumerSettings, onFailure: sqs.IQueue) {
  return new DynamoEventSource(table, {
    startingPosition: lambda.StartingPosition[settings.startingPosition],
    batchSize: settings.batchSize,
    parallelizationFactor: settings.parallelizationFactor,
    maxBatchingWindow: Duration.seconds(settings.maxBatchingWindowSeconds),
    reportBatchItemFailures: settings.reportBatchItemFailures,
    bisectBatchOnError: settings.bisectBatchOnError,
    retryAttempts: settings.retryAttempts,
    maxRecordAge: Duration.seconds(settings.maxRecordAgeSeconds),
    filters: settings.filters.map((pattern) => lambda.FilterCriteria.filter({ ...pattern })),
    onFailure: new SqsDlq(onFailure),
  });
}
