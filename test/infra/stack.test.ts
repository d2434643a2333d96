// Template assertions on the production stack, synthesized once with alert subscriptions from
// context (as `npx cdk synth -c alertEmails=ops@example.com -c alertSms=+15555550100` does).
import { Match } from 'aws-cdk-lib/assertions';
import { AwsCustomResource } from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { INDEX, TABLE_SCHEMA } from '#adapters/keys.ts';
import { SHIPPED_GROUP_IDS } from '#core/group-pack.ts';
import { SHIPPED_FIELDS } from '#core/shipped-catalogue.ts';
import { DENIES_INSECURE_TRANSPORT, functionsOf, idIn, type Synthesized, synth } from './synth.ts';

let s: Synthesized;
beforeAll(() => {
  s = synth({ alertEmails: 'ops@example.com', alertSms: '+15555550100' });
});

const idOf = (construct: Construct) => idIn(s, construct);
const functions = () => functionsOf(s);

describe('stack naming', () => {
  it('names the stack after the default stage', () => {
    expect(s.stack.stackName).toBe('Keywatch-dev');
  });

  it('sets no physical name on anything, so stages can share an account', () => {
    const named: Array<[string, string]> = [
      ['AWS::DynamoDB::Table', 'TableName'],
      ['AWS::Lambda::Function', 'FunctionName'],
      ['AWS::SNS::Topic', 'TopicName'],
      ['AWS::SQS::Queue', 'QueueName'],
      ['AWS::Logs::LogGroup', 'LogGroupName'],
      ['AWS::IAM::Role', 'RoleName'],
      ['AWS::SecretsManager::Secret', 'Name'],
      ['AWS::CloudWatch::Alarm', 'AlarmName'],
      ['AWS::CloudWatch::Dashboard', 'DashboardName'],
      ['AWS::Events::Rule', 'Name'],
      ['AWS::KMS::Key', 'AliasName'],
    ];
    for (const [type, property] of named) {
      for (const [id, resource] of Object.entries(s.template.findResources(type))) {
        expect(resource.Properties?.[property], `${id}.${property}`).toBeUndefined();
      }
    }
    s.template.resourceCountIs('AWS::KMS::Alias', 0);
    // The one name CloudFormation requires; API names need not be unique, this one follows the stage.
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { Name: 'Keywatch-dev' });
  });

  it('exports the API URL, the alert topic ARN and the secret ARN', () => {
    s.template.hasOutput('ApiUrl', { Value: Match.anyValue() });
    s.template.hasOutput('AlertTopicArn', { Value: { Ref: idOf(s.stack.alerting.alertTopic) } });
    s.template.hasOutput('SecretArn', { Value: { Ref: idOf(s.stack.api.secret) } });
  });
});

describe('storage', () => {
  it('is an on-demand table with the shared key schema, stream, PITR, TTL and encryption', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
      ],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: TABLE_SCHEMA.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: index.projection },
      })),
    });
  });

  it('indexes endpoints by due instant in a sparse keys-only GSI5, so a report writes no index entry', () => {
    const [table] = Object.values(s.template.findResources('AWS::DynamoDB::Table'));
    const indexes = table?.Properties?.GlobalSecondaryIndexes as { IndexName: string }[];
    expect(indexes.find((i) => i.IndexName === INDEX.due)).toEqual({
      IndexName: 'GSI5',
      KeySchema: [
        { AttributeName: 'GSI5PK', KeyType: 'HASH' },
        { AttributeName: 'GSI5SK', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    });
    expect(table?.Properties?.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'GSI5PK', AttributeType: 'S' },
        { AttributeName: 'GSI5SK', AttributeType: 'S' },
      ]),
    );
  });

  it('retains the table when the stack is deleted', () => {
    s.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('seeds each shipped group only where it is absent', () => {
    const seeds = s.template.findResources('Custom::AWS');
    const calls = Object.values(seeds).map((r) => JSON.stringify(r.Properties?.Create));
    for (const groupId of Object.values(SHIPPED_GROUP_IDS)) {
      const call = calls.find((c) => c.includes(`GROUP#${groupId}`));
      expect(call, groupId).toBeDefined();
      expect(call).toContain('attribute_not_exists(PK)');
      expect(call).toContain('ConditionalCheckFailedException');
      expect(call).toContain('\\"PK\\":{\\"S\\":\\"GROUPS\\"}');
    }
  });

  it('seeds each shipped custom field only where it is absent', () => {
    const calls = Object.values(s.template.findResources('Custom::AWS')).map((r) =>
      JSON.stringify(r.Properties?.Create),
    );
    for (const field of SHIPPED_FIELDS) {
      const call = calls.find((c) => c.includes(`FIELD#${field.level}#${field.name}`));
      expect(call, `${field.level}:${field.name}`).toBeDefined();
      expect(call).toContain('attribute_not_exists(PK)');
      expect(call).toContain('\\"PK\\":{\\"S\\":\\"FIELDS\\"}');
    }
  });

  it('sizes the deploy-time seed function: 256 MB and 30 s, not the 128 MB / 2 min defaults', () => {
    const provider = `AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`;
    const seed = Object.entries(s.template.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.startsWith(provider),
    );
    expect(seed?.[1].Properties).toMatchObject({ MemorySize: 256, Timeout: 30 });
  });
});

describe('functions', () => {
  it('run Node 24 on arm64 with active tracing and their own log group', () => {
    for (const [name, fn] of Object.entries(functions())) {
      const props = s.template.toJSON().Resources[idOf(fn.function)].Properties;
      expect(props, name).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
        LoggingConfig: { LogGroup: { Ref: idOf(fn.logGroup) } },
      });
    }
  });

  it('have the timeouts and memory sizes docs/deploy.md states', () => {
    const sizing = Object.fromEntries(
      Object.entries(functions()).map(([name, fn]) => {
        const { Timeout, MemorySize } = s.template.toJSON().Resources[idOf(fn.function)].Properties;
        return [name, { Timeout, MemorySize }];
      }),
    );

    expect(sizing).toEqual({
      ingest: { Timeout: 10, MemorySize: 256 },
      admin: { Timeout: 10, MemorySize: 512 },
      evaluate: { Timeout: 60, MemorySize: 1024 },
      notify: { Timeout: 30, MemorySize: 256 },
    });
  });

  it('keep every log group 14 days in the default stage (prod: test/infra/context.test.ts)', () => {
    const groups = Object.values(s.template.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThanOrEqual(6);
    expect(groups.map((g) => g.Properties?.RetentionInDays)).toEqual(groups.map(() => 14));
  });

  it('share the Powertools environment and get exactly the variables they need', () => {
    const shared = {
      POWERTOOLS_SERVICE_NAME: 'keywatch',
      POWERTOOLS_METRICS_NAMESPACE: 'Keywatch',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    };
    const table = { Ref: idOf(s.stack.storage.table) };
    const secret = { Ref: idOf(s.stack.api.secret) };
    const topic = { Ref: idOf(s.stack.alerting.alertTopic) };
    const seal = { 'Fn::GetAtt': [idOf(s.stack.api.keySealKey), 'Arn'] };
    const api = {
      TABLE_NAME: table,
      SECRET_ARN: secret,
      API_PATH_DECODED: 'true',
      KEY_SEAL_KMS_KEY_ARN: seal,
    };
    const expected = {
      ingest: { ...shared, ...api },
      admin: { ...shared, ...api },
      evaluate: { ...shared, TABLE_NAME: table },
      notify: { ...shared, TABLE_NAME: table, ALERT_TOPIC_ARN: topic },
    };
    for (const [name, fn] of Object.entries(functions())) {
      const env = s.template.toJSON().Resources[idOf(fn.function)].Properties.Environment.Variables;
      expect(env, name).toEqual(expected[name as keyof typeof expected]);
    }
  });

  it('keep the signing secret out of every environment variable and the template', () => {
    const json = JSON.stringify(s.template.toJSON());
    expect(json).not.toMatch(/KEYWATCH_SECRET/);
    s.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: 64 }),
      SecretString: Match.absent(),
    });
  });
});

describe('api', () => {
  it('routes status reports to ingest and everything else to admin through $default', () => {
    const routes = Object.values(s.template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => r.Properties,
    );
    expect(routes.map((r) => r.RouteKey).sort()).toEqual([
      '$default',
      'POST /v1/endpoints/status',
      'POST /v1/webhooks/{integration}',
    ]);
    const integrations = s.template.findResources('AWS::ApiGatewayV2::Integration');
    const targetOf = (routeKey: string) => {
      const route = routes.find((r) => r.RouteKey === routeKey);
      const integrationId = route.Target['Fn::Join'][1][1].Ref as string;
      return integrations[integrationId]?.Properties.IntegrationUri['Fn::GetAtt'][0];
    };
    expect(targetOf('$default')).toBe(idOf(s.stack.api.admin.function));
    expect(targetOf('POST /v1/endpoints/status')).toBe(idOf(s.stack.api.ingest.function));
    expect(targetOf('POST /v1/webhooks/{integration}')).toBe(idOf(s.stack.api.ingest.function));
  });

  it('throttles the stage and writes access logs', () => {
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [idOf(s.stack.api.accessLogs), 'Arn'] },
        Format: Match.stringLikeRegexp('\\$context\\.requestId'),
      },
    });
  });
});

describe('alerting', () => {
  it('encrypts both topics with the rotating customer-managed key and enforces TLS', () => {
    const keyArn = { 'Fn::GetAtt': [idOf(s.stack.alerting.key), 'Arn'] };
    s.template.resourceCountIs('AWS::SNS::Topic', 2);
    s.template.allResourcesProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
    s.template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Effect: 'Allow' }),
        ]),
      },
    });
    s.template.resourcePropertiesCountIs('AWS::SNS::TopicPolicy', DENIES_INSECURE_TRANSPORT, 2);
  });

  it('subscribes the alert e-mail and SMS numbers from context, and the e-mail to operator alarms', () => {
    const alertTopic = { Ref: idOf(s.stack.alerting.alertTopic) };
    const operatorTopic = { Ref: idOf(s.stack.alerting.operatorTopic) };
    s.template.resourceCountIs('AWS::SNS::Subscription', 3);
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: alertTopic,
    });
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sms',
      Endpoint: '+15555550100',
      TopicArn: alertTopic,
    });
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: operatorTopic,
    });
  });
});

describe('monitoring', () => {
  const alarmsOn = (metricName: string) =>
    Object.values(s.template.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.MetricName === metricName,
    );

  it('alarms on every failure path', () => {
    expect(alarmsOn('ApproximateNumberOfMessagesVisible')).toHaveLength(2);
    expect(alarmsOn('IteratorAge')).toHaveLength(2);
    expect(alarmsOn('Errors')).toHaveLength(4);
    expect(alarmsOn('Throttles')).toHaveLength(4);
    expect(alarmsOn('5xx')).toHaveLength(1);
    for (const queue of [s.stack.processing.evaluateFailures, s.stack.processing.notifyFailures]) {
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [idOf(queue), 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });

  it('sends every alarm and its recovery to the operator topic', () => {
    const operatorTopic = { Ref: idOf(s.stack.alerting.operatorTopic) };
    const alarms = Object.entries(s.template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(13);
    for (const [id, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions, id).toEqual([operatorTopic]);
      expect(alarm.Properties.OKActions, id).toEqual([operatorTopic]);
    }
  });

  it('has a dashboard', () => {
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});

describe('cdk-nag', () => {
  it('passes AwsSolutions with every acknowledged finding explained', () => {
    // synth() threw if any finding were unacknowledged; here the acknowledgments are inspected.
    expect(s.acknowledgments.length).toBeGreaterThan(0);
    for (const ack of s.acknowledgments) {
      expect(ack.id, ack.path).toMatch(/^AwsSolutions-/);
      expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThanOrEqual(60);
    }
  });
});
