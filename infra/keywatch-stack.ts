// The keywatch stack: one construct per concern, wired together. Nothing has a fixed physical name,
// so several stages (Keywatch-dev, Keywatch-prod) can live side by side in one account.
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { Alerting } from './alerting.ts';
import { Api } from './api.ts';
import type { DeploymentConfig } from './context.ts';
import { GroupPackSeed } from './group-pack-seed.ts';
import { Monitoring } from './monitoring.ts';
import { Processing } from './processing.ts';
import { StatusPage } from './status-page.ts';
import { Storage } from './storage.ts';

export interface KeywatchStackProps extends StackProps {
  readonly config: DeploymentConfig;
  /** Where the function folders live; tests may point it elsewhere. Defaults to `functions/`. */
  readonly functionsRoot?: string;
}

export class KeywatchStack extends Stack {
  readonly storage: Storage;
  readonly alerting: Alerting;
  readonly api: Api;
  readonly processing: Processing;
  readonly monitoring: Monitoring;
  readonly statusPage: StatusPage;

  constructor(scope: Construct, id: string, props: KeywatchStackProps) {
    super(scope, id, props);
    const { config } = props;
    const production = config.stage === 'prod';
    // Production keeps its logs and keys when the stack is deleted; other stages clean up after
    // themselves. The table is retained in every stage (storage.ts).
    const removalPolicy = production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = production ? logs.RetentionDays.THREE_MONTHS : logs.RetentionDays.TWO_WEEKS;
    const functionsRoot = props.functionsRoot === undefined ? {} : { functionsRoot: props.functionsRoot };

    this.storage = new Storage(this, 'Storage', { deletionProtection: production });
    const { table } = this.storage;

    this.alerting = new Alerting(this, 'Alerting', {
      alertEmails: config.alertEmails,
      alertSms: config.alertSms,
      keyRemovalPolicy: removalPolicy,
    });

    this.api = new Api(this, 'Api', {
      table,
      keyRemovalPolicy: removalPolicy,
      logRetention,
      logRemovalPolicy: removalPolicy,
      ...functionsRoot,
    });

    this.processing = new Processing(this, 'Processing', {
      table,
      alertTopic: this.alerting.alertTopic,
      alertTopicKey: this.alerting.key,
      logRetention,
      logRemovalPolicy: removalPolicy,
      ...functionsRoot,
    });

    new GroupPackSeed(this, 'GroupPackSeed', {
      table,
      logGroup: new logs.LogGroup(this, 'GroupPackSeedLogs', { retention: logRetention, removalPolicy }),
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      operatorTopic: this.alerting.operatorTopic,
      alertTopic: this.alerting.alertTopic,
      httpApi: this.api.httpApi,
      functions: {
        Ingest: this.api.ingest,
        Admin: this.api.admin,
        Evaluate: this.processing.evaluate,
        Notify: this.processing.notify,
      },
      streamConsumers: { Evaluate: this.processing.evaluate, Notify: this.processing.notify },
      failureQueues: { Evaluate: this.processing.evaluateFailures, Notify: this.processing.notifyFailures },
      tickRule: this.processing.tickRule,
    });

    this.statusPage = new StatusPage(this, 'StatusPage', { apiEndpoint: this.api.httpApi.apiEndpoint });
    new CfnOutput(this, 'StatusPageUrl', {
      description: 'The status page (and the API under /v1): sign in with the admin secret',
      value: `https://${this.statusPage.distribution.distributionDomainName}/`,
    });

    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the signed API (POST <ApiUrl>v1/endpoints/status)',
      value: this.api.stage.url,
    });
    new CfnOutput(this, 'AlertTopicArn', {
      description: 'SNS topic of keywatch alerts: subscribe e-mail, SMS or HTTPS endpoints here',
      value: this.alerting.alertTopic.topicArn,
    });
    new CfnOutput(this, 'SecretArn', {
      description: 'Secrets Manager secret holding the comma-separated request-signing secrets',
      value: this.api.secret.secretArn,
    });
  }
}
