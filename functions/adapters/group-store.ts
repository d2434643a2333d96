// Group definitions in the table: one item per group, all in the `GROUPS` partition so that the list
// is read consistently (an index could lag behind a definition just saved).
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { GroupDefinition } from '#core/criteria/types.ts';
import { ITEM, keys } from './keys.ts';

export interface StoredGroup {
  readonly definition: GroupDefinition;
  readonly updatedAt: string;
}

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
  return {
    async list(): Promise<StoredGroup[]> {
      const out: StoredGroup[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
            ExpressionAttributeValues: { ':pk': keys.groupsPartition, ':prefix': keys.groupsPrefix },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) {
          out.push({ definition: item.definition as GroupDefinition, updatedAt: String(item.updatedAt) });
        }
        start = page.LastEvaluatedKey;
      } while (start);
      return out;
    },

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

    /** Members counted with a key-only COUNT query: always exact, no counter to contend on. */
    async memberCount(groupId: string): Promise<number> {
      let count = 0;
      let start: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
            ExpressionAttributeValues: {
              ':pk': keys.groupPartition(groupId),
              ':prefix': keys.membersPrefix(),
            },
            Select: 'COUNT',
            ExclusiveStartKey: start,
          }),
        );
        count += page.Count ?? 0;
        start = page.LastEvaluatedKey;
      } while (start);
      return count;
    },
  };
}

export type GroupStore = ReturnType<typeof createGroupStore>;
