// Where alerts go: the alert topic (what notify publishes: one message per alerted transition) and
// the operator topic (CloudWatch alarm actions about keywatch itself). Both are encrypted with one
// customer-managed key and refuse non-TLS publishers.
import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertingProps {
  /** Subscribed to alerts and to operator alarms. */
  readonly alertEmails: readonly string[];
  /** E.164 numbers subscribed to alerts (SNS sends the `sms` text of each message). */
  readonly alertSms: readonly string[];
  /** Keep the key when the stack is deleted (prod); otherwise schedule its deletion. */
  readonly keyRemovalPolicy: RemovalPolicy;
}

export class Alerting extends Construct {
  readonly key: kms.Key;
  readonly alertTopic: sns.Topic;
  readonly operatorTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlertingProps) {
    super(scope, id);

    // Customer-managed rather than alias/aws/sns: CloudWatch alarms cannot publish to a topic
    // encrypted with the AWS-managed key, because its policy cannot be extended.
    this.key = new kms.Key(this, 'TopicKey', {
      description: 'keywatch: encrypts the alert and operator topics',
      enableKeyRotation: true,
      removalPolicy: props.keyRemovalPolicy,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy "*" means this key
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );

    this.alertTopic = new sns.Topic(this, 'AlertTopic', {
      displayName: 'keywatch',
      masterKey: this.key,
      enforceSSL: true,
    });
    this.operatorTopic = new sns.Topic(this, 'OperatorTopic', {
      displayName: 'keywatch ops',
      masterKey: this.key,
      enforceSSL: true,
    });

    for (const email of props.alertEmails) {
      this.alertTopic.addSubscription(new subscriptions.EmailSubscription(email));
      this.operatorTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    for (const number of props.alertSms) {
      this.alertTopic.addSubscription(new subscriptions.SmsSubscription(number));
    }
  }
}
