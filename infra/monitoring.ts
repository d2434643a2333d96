// Alarms on every failure path, all acting on the operator topic, and one dashboard with the
// pipeline's vital signs: requests in, records processed, alerts out, and what failed on the way.
import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { KeywatchFunction } from './function.ts';

export interface MonitoringProps {
  readonly operatorTopic: sns.ITopic;
  readonly httpApi: apigw.IHttpApi;
  readonly functions: Readonly<Record<string, KeywatchFunction>>;
  /** Functions fed by the table stream, for iterator-age alarms. */
  readonly streamConsumers: Readonly<Record<string, KeywatchFunction>>;
  readonly failureQueues: Readonly<Record<string, sqs.IQueue>>;
  readonly alertTopic: sns.ITopic;
  readonly tickRule: events.IRule;
}

/**
 * Iterator age at which the pipeline is clearly behind: the latency budget is 1 s, so a record
 * waiting 30 s for three minutes in a row means a shard is stuck or the function is failing.
 */
export const ITERATOR_AGE_ALARM_MS = 30_000;

export class Monitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  private readonly action: actions.SnsAction;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.action = new actions.SnsAction(props.operatorTopic);
    const minute = Duration.minutes(1);

    for (const [name, queue] of Object.entries(props.failureQueues)) {
      this.alarm(`${name}FailuresQueued`, {
        alarmDescription: `${name}: stream batches exhausted their retries and were parked in the on-failure queue. Replay them within 24 h (docs/deploy.md).`,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
    }

    for (const [name, fn] of Object.entries(props.streamConsumers)) {
      this.alarm(`${name}IteratorAge`, {
        alarmDescription: `${name}: stream records wait longer than ${ITERATOR_AGE_ALARM_MS / 1000} s; alerts are late.`,
        metric: fn.function.metric('IteratorAge', { period: minute, statistic: 'Maximum' }),
        threshold: ITERATOR_AGE_ALARM_MS,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
      });
    }

    for (const [name, fn] of Object.entries(props.functions)) {
      this.alarm(`${name}Errors`, {
        alarmDescription: `${name}: the function failed (uncaught error, timeout or out of memory).`,
        metric: fn.function.metricErrors({ period: minute, statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
      this.alarm(`${name}Throttles`, {
        alarmDescription: `${name}: invocations were throttled (account or reserved concurrency exhausted).`,
        metric: fn.function.metricThrottles({ period: minute, statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
    }

    this.alarm('Api5xx', {
      alarmDescription: 'API: requests answered with 5xx. Bad input never causes a 5xx, so this is a fault.',
      metric: props.httpApi.metricServerError({ period: minute, statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });

    this.alarm('AlertDeliveryFailures', {
      alarmDescription:
        'Alert topic: SNS could not deliver alerts to a subscriber (bounced e-mail, SMS limit).',
      metric: props.alertTopic.metricNumberOfNotificationsFailed({
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });

    this.alarm('TickDeliveryFailures', {
      alarmDescription:
        'The once-a-minute re-evaluation could not be delivered to evaluate; time-based groups go stale.',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Events',
        metricName: 'FailedInvocations',
        dimensionsMap: { RuleName: props.tickRule.ruleName },
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
    });
    const fns = Object.entries(props.functions);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests and errors',
        left: [props.httpApi.metricCount({ period: minute, statistic: 'Sum', label: 'requests' })],
        right: [
          props.httpApi.metricClientError({ period: minute, statistic: 'Sum', label: '4xx' }),
          props.httpApi.metricServerError({ period: minute, statistic: 'Sum', label: '5xx' }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency (p95, ms)',
        left: [props.httpApi.metricLatency({ period: minute, statistic: 'p95', label: 'latency' })],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Stream iterator age (max, ms)',
        left: Object.entries(props.streamConsumers).map(([name, fn]) =>
          fn.function.metric('IteratorAge', { period: minute, statistic: 'Maximum', label: name }),
        ),
        leftAnnotations: [{ value: ITERATOR_AGE_ALARM_MS, label: 'alarm' }],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Alerts published and failed',
        left: [
          props.alertTopic.metricNumberOfMessagesPublished({
            period: minute,
            statistic: 'Sum',
            label: 'published',
          }),
        ],
        right: [
          props.alertTopic.metricNumberOfNotificationsFailed({
            period: minute,
            statistic: 'Sum',
            label: 'failed',
          }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function invocations',
        left: fns.map(([name, fn]) =>
          fn.function.metricInvocations({ period: minute, statistic: 'Sum', label: name }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function errors and throttles',
        left: fns.map(([name, fn]) =>
          fn.function.metricErrors({ period: minute, statistic: 'Sum', label: `${name} errors` }),
        ),
        right: fns.map(([name, fn]) =>
          fn.function.metricThrottles({ period: minute, statistic: 'Sum', label: `${name} throttles` }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function duration (p95, ms)',
        left: fns.map(([name, fn]) =>
          fn.function.metricDuration({ period: minute, statistic: 'p95', label: name }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'On-failure queues (messages)',
        left: Object.entries(props.failureQueues).map(([name, queue]) =>
          queue.metricApproximateNumberOfMessagesVisible({
            period: minute,
            statistic: 'Maximum',
            label: name,
          }),
        ),
        width: 12,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 12 }),
    );
  }

  private alarm(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      // No data means nothing happened: no errors, no queued failures.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }
}
