// Read models for the query routes: group members and transition history, paged by DynamoDB keys.
import {
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { GroupDefinition } from '#core/criteria/types.ts';
import { type Transition, TransitionSchema } from '#core/transition.ts';
import { batchGetAll } from './batch-get.ts';
import type { Item } from './items.ts';
import { INDEX, type IndexName, keyAttributes, keys, partitionQuery, TRANSITION_SHARDS } from './keys.ts';
import { mergedPage } from './merged-query.ts';

type QueryInput = Omit<QueryCommandInput, 'TableName'>;

export interface KeyPage<T> {
  readonly items: T[];
  readonly lastKey: Record<string, unknown> | undefined;
}

/** The stored item carries keys and bookkeeping besides: a transition is its schema's properties. */
const TRANSITION_FIELDS = Object.keys(TransitionSchema.shape) as (keyof Transition)[];

function transitionFromItem(item: Item): Transition {
  const out: Record<string, unknown> = {};
  for (const k of TRANSITION_FIELDS) out[k] = item[k] ?? null;
  out.recordedLate = item.recordedLate === true;
  return out as unknown as Transition;
}

export function createQueryStore(doc: DynamoDBDocumentClient, tableName: string) {
  /**
   * One page of at most `limit` items, and the key to continue from only when more items exist: one
   * item beyond the page is read to know, so the last page never hands out a cursor to an empty one.
   * DynamoDB's Limit counts items read before a filter and a response stops at 1 MB, so reading goes
   * on until the page is full or the items run out.
   */
  async function query(input: QueryInput, limit: number) {
    const items: Item[] = [];
    const pages = paginateQuery({ client: doc, pageSize: limit + 1 }, { TableName: tableName, ...input });
    for await (const page of pages) {
      items.push(...(page.Items ?? []));
      if (items.length > limit) break;
    }
    if (items.length <= limit) return { items, lastKey: undefined };
    const page = items.slice(0, limit);
    const last = page[page.length - 1] as Item;
    const keyNames = keyAttributes(input.IndexName as IndexName | undefined);
    return { items: page, lastKey: Object.fromEntries(keyNames.map((k) => [k, last[k]])) };
  }

  return {
    async getGroup(groupId: string): Promise<{ definition: GroupDefinition; updatedAt: string } | undefined> {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: keys.group(groupId) }));
      return out.Item
        ? { definition: out.Item.definition as GroupDefinition, updatedAt: String(out.Item.updatedAt) }
        : undefined;
    },

    /**
     * One page of a group's members (of one company with `companyId`), ordered by company and
     * endpoint, merged from the group's shards and its pre-shard partition (keys.groupPartitions).
     */
    async members(
      groupId: string,
      companyId: string | undefined,
      limit: number,
      start?: Record<string, unknown>,
    ) {
      return mergedPage(
        doc,
        tableName,
        {
          partitions: keys.groupShards(groupId),
          leftovers: [keys.legacyGroupPartition(groupId)],
          sortPrefix: keys.membersPrefix(companyId),
          descending: false,
        },
        limit,
        start,
      );
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

    /**
     * Newest first, by endpoint (its partition), by group (GSI1, merged from the group's shards) or
     * across the fleet (GSI2, merged from its TRANSITION_SHARDS partitions).
     */
    async transitions(
      filter: { groupId?: string; endpointId?: string },
      limit: number,
      start?: Record<string, unknown>,
    ): Promise<KeyPage<Transition>> {
      const base = { ScanIndexForward: false, ExclusiveStartKey: start };
      let page: { items: Item[]; lastKey: Record<string, unknown> | undefined };
      if (filter.endpointId !== undefined) {
        const partition = partitionQuery({
          partition: keys.endpoint(filter.endpointId).PK,
          sortPrefix: keys.transitionsPrefix,
        });
        page = await query(
          {
            ...base,
            ...partition,
            ...(filter.groupId === undefined
              ? {}
              : {
                  FilterExpression: 'groupId = :g',
                  ExpressionAttributeValues: { ...partition.ExpressionAttributeValues, ':g': filter.groupId },
                }),
          },
          limit,
        );
      } else if (filter.groupId !== undefined) {
        const list = {
          index: INDEX.byParent,
          partitions: keys.groupShards(filter.groupId),
          leftovers: [keys.legacyGroupPartition(filter.groupId)],
          sortPrefix: keys.transitionsPrefix,
          descending: true,
        };
        page = await mergedPage(doc, tableName, list, limit, start);
      } else {
        const partitions = Array.from({ length: TRANSITION_SHARDS }, (_, s) => keys.transitionsCollection(s));
        const list = { index: INDEX.byCollection, partitions, descending: true };
        page = await mergedPage(doc, tableName, list, limit, start);
      }
      return { items: page.items.map(transitionFromItem), lastKey: page.lastKey };
    },
  };
}

export type QueryStore = ReturnType<typeof createQueryStore>;
