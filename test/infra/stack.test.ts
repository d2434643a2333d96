// Template assertions on the production stack, synthesized once with alert subscriptions from
// context (as `npx cdk synth -c alertEmails=ops@example.com -c alertSms=+15555550100` does).
import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsCustomResource } from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { INDEX, TABLE_SCHEMA } from '#adapters/keys.ts';
import { EVALUATE_FILTERS, NOTIFY_FILTERS } from '#adapters/stream-filters.ts';
import { SHIPPED_GROUP_IDS } from '#core/group-pack.ts';
import type { KeywatchFunction } from '#infra/function.ts';
import { actionsOf, roleStatements, type Synthesized, synth } from './synth.ts';

let s: Synthesized;
beforeAll(() => {
  s = synth({ alertEmails: 'ops@example.com', alertSms: '+15555550100' });
});

const idOf = (construct: Construct) => s.stack.getLogicalId(construct.node.defaultChild as CfnElement);
const statementsOf = (fn: KeywatchFunction) => roleStatements(s.template, idOf(fn.role));
const functions = () => ({
  ingest: s.stack.api.ingest,
  admin: s.stack.api.admin,
  evaluate: s.stack.processing.evaluate,
  notify: s.stack.processing.notify,
});

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

  it('sizes the deploy-time seed function: 256 MB and 30 s, not the 128 MB / 2 min defaults', () => {
    const provider = `AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`;
    const seed = Object.entries(s.template.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.startsWith(provider),
    );
    expect(seed?.[1].Properties).toMatchObject({ MemorySize: 256, Timeout: 30 });
  });
});

describe('functions', () => {
  it('run Node 24 on arm64 with active tracing, a timeout, a memory size and their own log group', () => {
    for (const [name, fn] of Object.entries(functions())) {
      const props = s.template.toJSON().Resources[idOf(fn.function)].Properties;
      expect(props, name).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
        LoggingConfig: { LogGroup: { Ref: idOf(fn.logGroup) } },
      });
      expect(props.Timeout, name).toBeGreaterThan(0);
      expect(props.MemorySize, name).toBeGreaterThanOrEqual(128);
    }
  });

  it('have log groups with a retention', () => {
    for (const [id, group] of Object.entries(s.template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties?.RetentionInDays, id).toBeGreaterThan(0);
    }
  });

  it('share the Powertools environment and get exactly the variables they need', () => {
    const shared = {
      POWERTOOLS_SERVICE_NAME: 'keywatch',
      POWERTOOLS_METRICS_NAMESPACE: 'Keywatch',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
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

describe('least privilege', () => {
  const dataActions = [
    'dynamodb:Query',
    'dynamodb:Scan',
    'dynamodb:BatchWriteItem',
    'dynamodb:TransactWriteItems',
  ];

  it('lets ingest update single table items, read keys, read the secret and open sealed keys, nothing else', () => {
    const actions = actionsOf(statementsOf(s.stack.api.ingest));
    expect(actions).not.toContain('sns:Publish');
    expect(actions.filter((a) => a.startsWith('dynamodb:')).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
    ]);
    expect(actions).toContain('secretsmanager:GetSecretValue');
    expect(actions.filter((a) => a.startsWith('kms:'))).toEqual(['kms:Decrypt']);
  });

  it("lets only admin seal ingest keys and only the API functions open them, on the seal key, with keywatch's encryption context", () => {
    const sealKeyArn = { 'Fn::GetAtt': [idOf(s.stack.api.keySealKey), 'Arn'] };
    const context = {
      'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['keyId', 'companyId'] },
      Null: { 'kms:EncryptionContextKeys': 'false' },
    };
    const kmsOn = (fn: KeywatchFunction) =>
      statementsOf(fn).filter((st) => JSON.stringify(st.Resource) === JSON.stringify(sealKeyArn));
    expect(kmsOn(s.stack.api.admin)).toEqual([
      expect.objectContaining({
        Action: ['kms:Encrypt', 'kms:Decrypt'],
        Effect: 'Allow',
        Condition: context,
      }),
    ]);
    expect(kmsOn(s.stack.api.ingest)).toEqual([
      expect.objectContaining({ Action: 'kms:Decrypt', Effect: 'Allow', Condition: context }),
    ]);
    for (const fn of [s.stack.processing.evaluate, s.stack.processing.notify]) expect(kmsOn(fn)).toEqual([]);
    s.template.hasResourceProperties('AWS::KMS::Key', {
      Description: Match.stringLikeRegexp('ingest keys'),
      EnableKeyRotation: true,
    });
  });

  it('lets notify publish to the alert topic and keep idempotency records, nothing more', () => {
    const statements = statementsOf(s.stack.processing.notify);
    const actions = actionsOf(statements);
    for (const forbidden of [
      ...dataActions,
      'dynamodb:BatchGetItem',
      'dynamodb:PartiQLSelect',
      'dynamodb:*',
    ]) {
      expect(actions).not.toContain(forbidden);
    }
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        Resource: { 'Fn::GetAtt': [idOf(s.stack.storage.table), 'Arn'] },
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'sns:Publish',
        Resource: { Ref: idOf(s.stack.alerting.alertTopic) },
      }),
    );
    expect(actions).not.toContain('secretsmanager:GetSecretValue');
  });

  it('keeps the signing secret and SNS away from evaluate', () => {
    const actions = actionsOf(statementsOf(s.stack.processing.evaluate));
    expect(actions).not.toContain('sns:Publish');
    expect(actions).not.toContain('secretsmanager:GetSecretValue');
    expect(actions).not.toContain('dynamodb:Scan');
    expect(actions).not.toContain('dynamodb:BatchWriteItem');
  });

  it('lets admin and evaluate Query the indexes they use by name, without a wildcard', () => {
    const uses = [
      [s.stack.api.admin, [INDEX.byParent, INDEX.byCollection]],
      [s.stack.processing.evaluate, [INDEX.endpointsByParent, INDEX.fleet]],
    ] as const;
    for (const [fn, indexes] of uses) {
      expect(statementsOf(fn)).toContainEqual(
        expect.objectContaining({
          Action: 'dynamodb:Query',
          Resource: indexes.map((name) => ({
            'Fn::Join': ['', [{ 'Fn::GetAtt': [idOf(s.stack.storage.table), 'Arn'] }, `/index/${name}`]],
          })),
        }),
      );
    }
  });

  it('grants Resource "*" only for actions that have no resource-level permissions', () => {
    const allowedOnStar = new Set([
      'xray:PutTraceSegments',
      'xray:PutTelemetryRecords',
      'dynamodb:ListStreams',
    ]);
    for (const [id, policy] of Object.entries(s.template.findResources('AWS::IAM::Policy'))) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        if (statement.Resource !== '*') continue;
        for (const action of [statement.Action].flat())
          expect(allowedOnStar.has(action), `${id}: ${action}`).toBe(true);
      }
    }
  });

  it('uses no AWS managed policy on the project functions', () => {
    for (const fn of Object.values(functions())) {
      const role = s.template.toJSON().Resources[idOf(fn.role)];
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('stream processing', () => {
  const common = {
    StartingPosition: 'TRIM_HORIZON',
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    BisectBatchOnFunctionError: true,
    MaximumBatchingWindowInSeconds: 0,
    MaximumRetryAttempts: Match.anyValue(),
    MaximumRecordAgeInSeconds: Match.anyValue(),
  };

  it('feeds evaluate the data changes it handles, with bounded retries and an on-failure queue', () => {
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ...common,
      FunctionName: { Ref: idOf(s.stack.processing.evaluate.function) },
      EventSourceArn: { 'Fn::GetAtt': [idOf(s.stack.storage.table), 'StreamArn'] },
      FilterCriteria: { Filters: EVALUATE_FILTERS.map((p) => ({ Pattern: JSON.stringify(p) })) },
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [idOf(s.stack.processing.evaluateFailures), 'Arn'] } },
      },
    });
  });

  it('feeds notify only alerted transitions', () => {
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ...common,
      FunctionName: { Ref: idOf(s.stack.processing.notify.function) },
      FilterCriteria: { Filters: NOTIFY_FILTERS.map((p) => ({ Pattern: JSON.stringify(p) })) },
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [idOf(s.stack.processing.notifyFailures), 'Arn'] } },
      },
    });
  });

  it('bounds retries and record age on both mappings', () => {
    for (const mapping of Object.values(s.template.findResources('AWS::Lambda::EventSourceMapping'))) {
      const p = mapping.Properties;
      expect(p.MaximumRetryAttempts).toBeGreaterThanOrEqual(1);
      expect(p.MaximumRetryAttempts).toBeLessThanOrEqual(10);
      expect(p.MaximumRecordAgeInSeconds).toBeGreaterThanOrEqual(60);
      expect(p.MaximumRecordAgeInSeconds).toBeLessThanOrEqual(24 * 3600);
      expect(p.BatchSize).toBeLessThanOrEqual(100);
    }
  });

  it('parks failures in encrypted, TLS-only queues', () => {
    s.template.resourceCountIs('AWS::SQS::Queue', 2);
    s.template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    s.template.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      },
      2,
    );
  });

  it('invokes evaluate every minute with the tick payload', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [idOf(s.stack.processing.evaluate.function), 'Arn'] },
          Input: JSON.stringify({ source: 'keywatch.tick' }),
        }),
      ],
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
    s.template.resourcePropertiesCountIs(
      'AWS::SNS::TopicPolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      },
      2,
    );
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
