// `npm run migrate`: moves the member items versions before the group shards wrote (one partition
// `GROUP#<g>` per group) to their shards (`GROUP#<g>#<s>`, keys.member), and deletes those no
// endpoint stands behind any more. Until it has run, readers merge the old partition and writers
// delete from it too (decisions §27); once it is empty, writers stop, so a fleet-wide change that
// empties a group is no longer held to one partition's pace. Transitions are not moved: they are
// never rewritten, readers merge the old GSI1 partition, and it empties as the history expires.
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetAll } from './batch-get.ts';
import { endpointFromItem, type Item } from './items.ts';
import { keys, legacyMembersQuery } from './keys.ts';

export interface MigrationResult {
  /** Member items now in their shard. */
  readonly moved: number;
  /** Pre-shard items of endpoints no longer in the group (or gone): deleted. */
  readonly removed: number;
  /** Pre-shard items still there (a concurrent change kept winning; run it again). */
  readonly left: number;
}

const PAGE = 100;
const ATTEMPTS = 5;

/**
 * Moves one pre-shard member item, guarded by its endpoint's membership revision: read the endpoint
 * consistently, then in one transaction check that `grev` is unchanged and put the item in its shard
 * (when the endpoint is still in the group, under the same company) and delete the old one. An
 * evaluation that writes the endpoint meanwhile bumps `grev`, so this transaction fails and is tried
 * again from a fresh read; one that commits after it finds the item in its shard. The shard item
 * takes `since` from the endpoint's own map, the membership's source of truth.
 */
async function moveOne(
  doc: DynamoDBDocumentClient,
  tableName: string,
  groupId: string,
  item: Item,
): Promise<'moved' | 'removed' | 'left'> {
  const endpointId = String(item.endpointId);
  const companyId = String(item.companyId);
  const legacyKey = keys.legacyMember(groupId, companyId, endpointId);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const [stored] = await batchGetAll(doc, tableName, [keys.endpoint(endpointId)], true);
    const e = stored === undefined ? undefined : endpointFromItem(stored);
    const since = e?.groups[groupId];
    const keep =
      e !== undefined &&
      since !== undefined &&
      (e.groupsCompanyId ?? e.companyId).toLowerCase() === companyId.toLowerCase();
    const guard =
      e === undefined
        ? { ConditionExpression: 'attribute_not_exists(PK)' }
        : { ConditionExpression: 'grev = :grev', ExpressionAttributeValues: { ':grev': e.grev } };
    try {
      await doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { ConditionCheck: { TableName: tableName, Key: keys.endpoint(endpointId), ...guard } },
            { Delete: { TableName: tableName, Key: legacyKey } },
            ...(keep
              ? [
                  {
                    Put: {
                      TableName: tableName,
                      Item: { ...item, ...keys.member(groupId, companyId, endpointId), since },
                    },
                  },
                ]
              : []),
          ],
        }),
      );
      return keep ? 'moved' : 'removed';
    } catch (err: unknown) {
      if (!(err instanceof TransactionCanceledException)) throw err;
    }
  }
  return 'left';
}

/**
 * Migrates the pre-shard member items of these groups (the defined ones: a deleted group's purge job
 * reads its old partition itself), `concurrency` items at a time. Safe to run while the pipeline
 * runs, and again: what was moved is not in the old partition any more.
 */
export async function migrateGroupMembers(
  doc: DynamoDBDocumentClient,
  tableName: string,
  groupIds: readonly string[],
  opts: { readonly concurrency?: number; readonly log?: (line: string) => void } = {},
): Promise<MigrationResult> {
  const concurrency = opts.concurrency ?? 8;
  let moved = 0;
  let removed = 0;
  let left = 0;
  for (const groupId of groupIds) {
    let start: Record<string, unknown> | undefined;
    let groupMoved = 0;
    do {
      const page = await doc.send(
        new QueryCommand({
          TableName: tableName,
          ...legacyMembersQuery(groupId),
          Limit: PAGE,
          ExclusiveStartKey: start,
        }),
      );
      const items = page.Items ?? [];
      for (let i = 0; i < items.length; i += concurrency) {
        const outcomes = await Promise.all(
          items.slice(i, i + concurrency).map((item) => moveOne(doc, tableName, groupId, item)),
        );
        for (const o of outcomes) {
          if (o === 'moved') moved++;
          else if (o === 'removed') removed++;
          else left++;
          if (o !== 'left') groupMoved++;
        }
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    if (groupMoved > 0) opts.log?.(`${groupId}: ${groupMoved} pre-shard member items handled`);
  }
  return { moved, removed, left };
}
