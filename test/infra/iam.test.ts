// Least privilege on the production stack: each function's role allows what its code calls, on the
// resources it touches, and nothing else.
import { Match } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { INDEX } from '#adapters/keys.ts';
import type { KeywatchFunction } from '#infra/function.ts';
import { actionsOf, functionsOf, idIn, roleStatements, type Synthesized, synth } from './synth.ts';

let s: Synthesized;
beforeAll(() => {
  s = synth();
});

const idOf = (construct: Construct) => idIn(s, construct);
const statementsOf = (fn: KeywatchFunction) => roleStatements(s.template, idOf(fn.role));
const functions = () => functionsOf(s);

describe('least privilege', () => {
  const dataActions = [
    'dynamodb:Query',
    'dynamodb:Scan',
    'dynamodb:BatchWriteItem',
    'dynamodb:TransactWriteItems',
  ];

  it('lets ingest update single table items, read keys and the field catalogue, read the secret and open sealed keys, nothing else', () => {
    const actions = actionsOf(statementsOf(s.stack.api.ingest));
    expect(actions).not.toContain('sns:Publish');
    expect(actions.filter((a) => a.startsWith('dynamodb:')).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect(actions).toContain('secretsmanager:GetSecretValue');
    expect(actions.filter((a) => a.startsWith('kms:'))).toEqual(['kms:Decrypt']);
    // …and only on endpoint and ingest-key items and the field catalogue's partition.
    const table = statementsOf(s.stack.api.ingest).find((st) => st.Sid === 'Table');
    expect(table?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['ENDPOINT#*', 'KEY#*', 'FIELDS'] },
    });
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
      [s.stack.api.admin, [INDEX.byParent, INDEX.byCollection, INDEX.endpointsByParent, INDEX.fleet]],
      [s.stack.processing.evaluate, [INDEX.endpointsByParent, INDEX.fleet, INDEX.due]],
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
