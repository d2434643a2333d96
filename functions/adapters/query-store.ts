// Read models for the query routes: group members and transition history, paged by DynamoDB keys.
import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { GroupDefinition } from '#core/criteria/types.ts';
import type { Transition } from '#core/transition.ts';
import { batchGetAll } from './batch-get.ts';
import type { Item } from './items.ts';
import { INDEX, keys } from './keys.ts';

export interface KeyPage<T> {
  readonly items: T[];
  readonly lastKey: Record<string, unknown> | undefined;
}

const TRANSITION_FIELDS = [
  'transitionId',
  'groupId',
  'groupName',
  'endpointId',
  'hostname',
  'companyId',
  'siteId',
  'companyName',
  'siteName',
  'event',
  'occurredAt',
  'alert',
  'severity',
  'fields',
  'statusText',
] as const;

function transitionFromItem(item: Item): Transition {
  const out: Record<string, unknown> = {};
  for (const k of TRANSITION_FIELDS) out[k] = item[k] ?? null;
  return out as unknown as Transition;
}

export function createQueryStore(doc: DynamoDBDocumentClient, tableName: string) {
  async function query(
    input: ConstructorParameters<typeof QueryCommand>[0],
    limit: number,
    filtered: boolean,
  ) {
    // With a filter, DynamoDB's Limit counts items read, not returned: keep reading until the page is full.
    const items: Item[] = [];
    let start = input.ExclusiveStartKey;
    let lastKey: Record<string, unknown> | undefined;
    do {
      const out = await doc.send(
        new QueryCommand({ ...input, ExclusiveStartKey: start, Limit: limit - items.length }),
      );
      for (const item of out.Items ?? []) items.push(item);
      lastKey = out.LastEvaluatedKey;
      start = lastKey;
    } while (filtered && lastKey !== undefined && items.length < limit);
    return { items, lastKey };
  }

  return {
    async getGroup(groupId: string): Promise<{ definition: GroupDefinition; updatedAt: string } | undefined> {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: keys.group(groupId) }));
      return out.Item
        ? { definition: out.Item.definition as GroupDefinition, updatedAt: String(out.Item.updatedAt) }
        : undefined;
    },

    async members(
      groupId: string,
      companyId: string | undefined,
      limit: number,
      start?: Record<string, unknown>,
    ) {
      const page = await query(
        {
          TableName: tableName,
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
          ExpressionAttributeValues: {
            ':pk': keys.groupPartition(groupId),
            ':prefix': keys.membersPrefix(companyId),
          },
          ExclusiveStartKey: start,
        },
        limit,
        false,
      );
      return page;
    },

    /** Endpoint items by id (hostname and site are read fresh for member lists). */
    async endpoints(ids: readonly string[]): Promise<Map<string, Item>> {
      const items = await batchGetAll(
        doc,
        tableName,
        ids.map((id) => keys.endpoint(id)),
      );
      return new Map(items.map((item) => [String(item.endpointId), item]));
    },

    /** Newest first, by endpoint (its partition), by group (GSI1) or across the fleet (GSI2). */
    async transitions(
      filter: { groupId?: string; endpointId?: string },
      limit: number,
      start?: Record<string, unknown>,
    ): Promise<KeyPage<Transition>> {
      const base = { TableName: tableName, ScanIndexForward: false, ExclusiveStartKey: start };
      let page: { items: Item[]; lastKey: Record<string, unknown> | undefined };
      if (filter.endpointId !== undefined) {
        page = await query(
          {
            ...base,
            KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
            ...(filter.groupId !== undefined ? { FilterExpression: 'groupId = :g' } : {}),
            ExpressionAttributeValues: {
              ':pk': keys.endpoint(filter.endpointId).PK,
              ':prefix': keys.transitionsPrefix,
              ...(filter.groupId !== undefined ? { ':g': filter.groupId } : {}),
            },
          },
          limit,
          filter.groupId !== undefined,
        );
      } else if (filter.groupId !== undefined) {
        page = await query(
          {
            ...base,
            IndexName: INDEX.byParent,
            KeyConditionExpression: 'GSI1PK = :pk AND begins_with(GSI1SK, :prefix)',
            ExpressionAttributeValues: {
              ':pk': keys.groupPartition(filter.groupId),
              ':prefix': keys.transitionsPrefix,
            },
          },
          limit,
          false,
        );
      } else {
        page = await query(
          {
            ...base,
            IndexName: INDEX.byCollection,
            KeyConditionExpression: 'GSI2PK = :pk',
            ExpressionAttributeValues: { ':pk': keys.transitionsCollection },
          },
          limit,
          false,
        );
      }
      return { items: page.items.map(transitionFromItem), lastKey: page.lastKey };
    },
  };
}

export type QueryStore = ReturnType<typeof createQueryStore>;
