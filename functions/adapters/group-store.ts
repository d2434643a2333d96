// Group definitions in the table: one item per group, all in the `GROUPS` partition so that the list
// is read consistently (an index could lag behind a definition just saved). The snapshot also reads
// the custom field definitions (field-store.ts): groups and fields change under one revision.
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { FieldDefinition, Level } from '#core/catalogue.ts';
import type { GroupDefinition } from '#core/criteria/types.ts';
import type { Page, PageCursor } from '#functions/evaluate/ports.ts';
import { batchGetAll } from './batch-get.ts';
import { createFieldStore, fieldItem, type StoredField } from './field-store.ts';
import { ITEM, keys, partitionQuery } from './keys.ts';

export interface StoredGroup {
  readonly definition: GroupDefinition;
  readonly updatedAt: string;
}

/** The group set as read together with its revision, for a guarded change. */
export interface GroupSnapshot {
  readonly groups: StoredGroup[];
  /** The stored custom field definitions, read after the groups (see snapshot). */
  readonly fields: StoredField[];
  readonly rev: number;
}

/** One guarded change to the group set or the field catalogue. */
export type GuardedChange =
  | { readonly definition: GroupDefinition }
  | { readonly deleteId: string }
  | { readonly field: FieldDefinition }
  | { readonly deleteField: { readonly level: Level; readonly name: string } };

/** Another PUT or DELETE of a group changed the set between our read and our write. */
export class GroupSetChangedError extends Error {
  override readonly name = 'GroupSetChangedError';
}

/** The set's revision lives beside the definitions; every guarded change bumps it. */
const REV_KEY = { PK: keys.groupsPartition, SK: 'REV' } as const;

export function groupItem(definition: GroupDefinition, nowIso: string) {
  return {
    ...keys.group(definition.id),
    type: ITEM.group,
    groupId: definition.id,
    definition,
    updatedAt: nowIso,
  };
}

export function createGroupStore(doc: DynamoDBDocumentClient, tableName: string) {
  const fieldStore = createFieldStore(doc, tableName);
  /**
   * Every definition and the set's revision, in one consistent read of the partition, then the
   * field definitions. In that order, a field change landing between the two reads makes the fields
   * newer than the revision, never older: a guarded change made from this snapshot then fails and is
   * retried, and an evaluator reloads on the field's own stream record.
   */
  async function snapshot(): Promise<GroupSnapshot> {
    const groups: StoredGroup[] = [];
    let rev = 0;
    const pages = paginateQuery(
      { client: doc },
      { TableName: tableName, ...partitionQuery({ partition: keys.groupsPartition }), ConsistentRead: true },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        if (item.SK === REV_KEY.SK) rev = Number(item.rev ?? 0);
        else
          groups.push({ definition: item.definition as GroupDefinition, updatedAt: String(item.updatedAt) });
      }
    }
    return { groups, fields: await fieldStore.list(true), rev };
  }

  const writeOf = (change: GuardedChange, nowIso: string) =>
    'definition' in change
      ? { Put: { TableName: tableName, Item: groupItem(change.definition, nowIso) } }
      : 'deleteId' in change
        ? { Delete: { TableName: tableName, Key: keys.group(change.deleteId) } }
        : 'field' in change
          ? { Put: { TableName: tableName, Item: fieldItem(change.field, nowIso) } }
          : {
              Delete: {
                TableName: tableName,
                Key: keys.field(change.deleteField.level, change.deleteField.name),
              },
            };

  /**
   * Creates, replaces (`definition`) or deletes (`deleteId`) groups, or puts or deletes field
   * definitions, only if the set is still at revision `rev`: validation against the set (references,
   * cycles, the catalogue) then holds for what is stored, even with concurrent changes.
   * GroupSetChangedError otherwise. At most 99 changes (a transaction holds 100 items).
   */
  async function changeManyGuarded(changes: readonly GuardedChange[], rev: number, nowIso: string) {
    if (changes.length === 0 || changes.length > 99)
      throw new Error(`${changes.length} changes in one transaction`);
    try {
      await doc.send(
        new TransactWriteCommand({
          TransactItems: [
            ...changes.map((c) => writeOf(c, nowIso)),
            {
              Update: {
                TableName: tableName,
                Key: REV_KEY,
                UpdateExpression: 'SET #rev = :next',
                ConditionExpression: rev === 0 ? 'attribute_not_exists(#rev)' : '#rev = :rev',
                ExpressionAttributeNames: { '#rev': 'rev' },
                ExpressionAttributeValues: { ':next': rev + 1, ...(rev === 0 ? {} : { ':rev': rev }) },
              },
            },
          ],
        }),
      );
    } catch (e: unknown) {
      if (e instanceof TransactionCanceledException) throw new GroupSetChangedError('group set changed');
      throw e;
    }
  }

  return {
    async list(): Promise<StoredGroup[]> {
      return (await snapshot()).groups;
    },

    snapshot,

    /**
     * Creates, replaces (`definition`) or deletes (`deleteId`) one group, or puts or deletes one
     * field definition, only if the set is still at
     * revision `rev`: validation against the set (references, cycles) then holds for what is stored,
     * even with concurrent changes. GroupSetChangedError otherwise.
     */
    async changeGuarded(change: GuardedChange, rev: number, nowIso: string) {
      await changeManyGuarded([change], rev, nowIso);
    },

    /** Up to 99 changes in one transaction with the revision bump (an import's chunk). */
    changeManyGuarded,

    /** Creates or replaces; returns whether it existed before. */
    async put(definition: GroupDefinition, nowIso: string): Promise<{ created: boolean }> {
      const out = await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: groupItem(definition, nowIso),
          ReturnValues: 'ALL_OLD',
        }),
      );
      return { created: out.Attributes === undefined };
    },

    /** Adds a field definition only where none exists (seeding the shipped catalogue). */
    putFieldIfAbsent: fieldStore.putIfAbsent,

    /** Adds a group only where none with that id exists (seeding the shipped pack). */
    async putIfAbsent(definition: GroupDefinition, nowIso: string): Promise<boolean> {
      try {
        await doc.send(
          new PutCommand({
            TableName: tableName,
            Item: groupItem(definition, nowIso),
            ConditionExpression: 'attribute_not_exists(PK)',
          }),
        );
        return true;
      } catch (e: unknown) {
        if (e instanceof Error && e.name === 'ConditionalCheckFailedException') return false;
        throw e;
      }
    },

    async delete(groupId: string): Promise<boolean> {
      const out = await doc.send(
        new DeleteCommand({ TableName: tableName, Key: keys.group(groupId), ReturnValues: 'ALL_OLD' }),
      );
      return out.Attributes !== undefined;
    },

    /** Which of these groups are defined now (consistent read; entries are rare, so is this read). */
    async existingGroups(groupIds: readonly string[]): Promise<Set<string>> {
      const items = await batchGetAll(
        doc,
        tableName,
        groupIds.map((id) => keys.group(id)),
        true,
      );
      return new Set(items.map((i) => String(i.groupId)));
    },

    async groupExists(groupId: string): Promise<boolean> {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: keys.group(groupId), ConsistentRead: true }),
      );
      return out.Item !== undefined;
    },

    /**
     * Member items of a group, one page (a purge removes those of a deleted group): its partitions
     * (keys.groupPartitions) one after another, the cursor's `shard` naming which. A cursor without
     * one (written before the shards) continues the pre-shard partition, which comes first.
     */
    async memberPage(
      groupId: string,
      cursor: PageCursor | null,
      limit: number,
    ): Promise<Page<{ endpointId: string; companyId: string }>> {
      const partitions = keys.groupPartitions(groupId);
      const shard = cursor?.shard ?? 0;
      const out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          ...partitionQuery({ partition: partitions[shard] as string, sortPrefix: keys.membersPrefix() }),
          ExclusiveStartKey: cursor?.key,
          Limit: limit,
        }),
      );
      const next: PageCursor | null = out.LastEvaluatedKey
        ? { shard, key: out.LastEvaluatedKey }
        : shard + 1 < partitions.length
          ? { shard: shard + 1 }
          : null;
      return {
        items: (out.Items ?? []).map((i) => ({
          endpointId: String(i.endpointId),
          companyId: String(i.companyId),
        })),
        next,
      };
    },

    /**
     * Members counted with key-only COUNT queries of each of the group's partitions, summed: always
     * exact, no counter to contend on.
     */
    async memberCount(groupId: string): Promise<number> {
      const counts = await Promise.all(
        keys.groupPartitions(groupId).map(async (partition) => {
          let count = 0;
          const pages = paginateQuery(
            { client: doc },
            {
              TableName: tableName,
              ...partitionQuery({ partition, sortPrefix: keys.membersPrefix() }),
              Select: 'COUNT',
            },
          );
          for await (const page of pages) count += page.Count ?? 0;
          return count;
        }),
      );
      return counts.reduce((a, b) => a + b, 0);
    },
  };
}

export type GroupStore = ReturnType<typeof createGroupStore>;
