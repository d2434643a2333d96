// Seeds the shipped group pack (DESIGN §2) at deploy time: one conditional PutItem per group, so a
// group an operator has since edited or deleted-and-recreated is never overwritten, and a group
// added to the pack in a later release appears on the next deploy. The items are built by the same
// code the API uses to store a group (`groupItem`), from the parsed, canonical definitions.

import { marshall } from '@aws-sdk/util-dynamodb';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { fieldItem } from '../functions/adapters/field-store.ts';
import { groupItem } from '../functions/adapters/group-store.ts';
import { shippedGroupDefinitions } from '../functions/core/group-pack.ts';
import { SHIPPED_FIELDS } from '../functions/core/shipped-catalogue.ts';

/**
 * `updatedAt` of a seeded group. A constant, not the synth time, so the template is the same on
 * every synth and `cdk diff` shows nothing when nothing changed.
 */
export const GROUP_PACK_RELEASED_AT = '2026-11-26T00:00:00.000Z';

/** The deploy-time seed function's size: what four conditional PutItems need, with margin. */
export const SEED_FUNCTION = { memorySize: 256, timeoutSeconds: 30 } as const;

export interface GroupPackSeedProps {
  readonly table: ITable;
  readonly logGroup: logs.ILogGroup;
}

export class GroupPackSeed extends Construct {
  readonly groupIds: readonly string[];

  constructor(scope: Construct, id: string, props: GroupPackSeedProps) {
    super(scope, id);
    const definitions = shippedGroupDefinitions();
    this.groupIds = definitions.map((d) => d.id);

    const policy = cr.AwsCustomResourcePolicy.fromStatements([
      new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [props.table.tableArn] }),
    ]);

    // The shipped custom fields first (the groups read them), then the groups; ids stay stable.
    const items = [
      ...SHIPPED_FIELDS.map((f, i) => ({
        id: `Field-${i}`,
        physical: `keywatch-field-${f.level}-${i}`,
        item: fieldItem(f, GROUP_PACK_RELEASED_AT),
      })),
      ...definitions.map((d) => ({
        id: `Group-${d.id}`,
        physical: `keywatch-group-${d.id}`,
        item: groupItem(d, GROUP_PACK_RELEASED_AT),
      })),
    ];
    for (const { id, physical, item } of items) {
      const putIfAbsent: cr.AwsSdkCall = {
        service: 'DynamoDB',
        action: 'PutItem',
        parameters: {
          TableName: props.table.tableName,
          Item: marshall(item, { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(PK)',
        },
        // Already there (seeded before, or created by an operator): keep it as it is.
        ignoreErrorCodesMatching: 'ConditionalCheckFailedException',
        physicalResourceId: cr.PhysicalResourceId.of(physical),
      };
      new cr.AwsCustomResource(this, id, {
        onCreate: putIfAbsent,
        onUpdate: putIfAbsent,
        // Deleting the stack keeps the table (retained) and therefore the groups in it.
        policy,
        installLatestAwsSdk: false, // the runtime's SDK v3 has PutItem; no download at deploy
        logGroup: props.logGroup,
        // Sized like the project's own functions rather than CDK's defaults (128 MB, 2 min): one
        // PutItem per group needs little, and a stuck call should fail the deploy quickly.
        memorySize: SEED_FUNCTION.memorySize,
        timeout: Duration.seconds(SEED_FUNCTION.timeoutSeconds),
      });
    }

    this.acknowledgeProviderFindings();
  }

  /** The provider function is CDK's shared singleton; findings on it are acknowledged here. */
  private acknowledgeProviderFindings(): void {
    const provider = Stack.of(this).node.tryFindChild(
      `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`,
    );
    if (provider === undefined) return;
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'CDK-managed provider of the deploy-time group-pack seed (AwsCustomResource); it runs only during deployments and its role is not configurable per log group.',
    });
  }
}
