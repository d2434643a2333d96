// Pages of endpoints for fan-out walks: a company's (or one site's) through GSI3, the fleet's shard by
// shard through GSI4, the endpoints due for the minute tick through GSI5 (due-index.ts). The indexes
// hold keys only; the items are then read by key.
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { EndpointRecord } from '#core/endpoint.ts';
import type { FleetPager, Page, PageCursor, Scope } from '#functions/evaluate/ports.ts';
import { batchGetAll } from './batch-get.ts';
import { anyDue, keysDue } from './due-index.ts';
import { endpointFromItem } from './items.ts';
import { FLEET_SHARDS, INDEX, ITEM, keys, partitionQuery, TABLE_SCHEMA } from './keys.ts';

/** Index entries carry only keys: the endpoint id is the base table's PK after `ENDPOINT#`. */
function endpointIdOfKey(key: Record<string, unknown>): string {
  return String(key[TABLE_SCHEMA.partitionKey]).slice('ENDPOINT#'.length);
}

export function createFleetPager(doc: DynamoDBDocumentClient, tableName: string): FleetPager {
  async function keysOfCompany(
    scope: Extract<Scope, { kind: 'company' }>,
    cursor: PageCursor | null,
    limit: number,
  ) {
    const out = await doc.send(
      new QueryCommand({
        TableName: tableName,
        ...partitionQuery({
          index: INDEX.endpointsByParent,
          partition: keys.companyEndpoints(scope.companyId),
          ...(scope.siteId === undefined ? {} : { sortPrefix: keys.siteEndpointsPrefix(scope.siteId) }),
        }),
        ExclusiveStartKey: cursor?.key,
        Limit: limit,
      }),
    );
    return {
      ids: (out.Items ?? []).map(endpointIdOfKey),
      next: out.LastEvaluatedKey ? { key: out.LastEvaluatedKey } : null,
    };
  }

  async function keysOfFleet(cursor: PageCursor | null, limit: number) {
    const shard = cursor?.shard ?? 0;
    const out = await doc.send(
      new QueryCommand({
        TableName: tableName,
        ...partitionQuery({ index: INDEX.fleet, partition: keys.fleetShard(shard) }),
        ExclusiveStartKey: cursor?.key,
        Limit: limit,
      }),
    );
    return {
      ids: (out.Items ?? []).map(endpointIdOfKey),
      next: out.LastEvaluatedKey
        ? { shard, key: out.LastEvaluatedKey }
        : shard + 1 < FLEET_SHARDS
          ? { shard: shard + 1 }
          : null,
    };
  }

  async function keysOfDue(untilMs: number, cursor: PageCursor | null, limit: number) {
    const page = await keysDue(doc, tableName, untilMs, cursor, limit);
    return { ids: page.items.map(endpointIdOfKey), next: page.next };
  }

  return {
    async endpointsPage(scope, cursor, limit, consistent): Promise<Page<EndpointRecord>> {
      const page =
        scope.kind === 'company'
          ? await keysOfCompany(scope, cursor, limit)
          : scope.kind === 'due'
            ? await keysOfDue(scope.untilMs, cursor, limit)
            : await keysOfFleet(cursor, limit);
      const items = await batchGetAll(
        doc,
        tableName,
        page.ids.map((id) => keys.endpoint(id)),
        consistent,
      );
      const records = items.filter((i) => i.type === ITEM.endpoint).map(endpointFromItem);
      // An endpoint moved to another company since the index was read is evaluated by its own record.
      const inScope =
        scope.kind === 'company'
          ? records.filter(
              (e) =>
                e.companyId === scope.companyId && (scope.siteId === undefined || e.siteId === scope.siteId),
            )
          : records;
      return { items: inScope, next: page.next };
    },

    anyDue: (untilMs) => anyDue(doc, tableName, untilMs),
  };
}
