// Reads of the due index (GSI5, sparse, keys only): endpoints whose membership the clock alone can
// change, by the instant it can, over the fleet's shards. A query takes everything due at or before
// an instant, not a window, so a tick that ran late (or not at all) still finds all that is due.
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { PageCursor } from '#functions/evaluate/ports.ts';
import { FLEET_SHARDS, INDEX, indexKeys, keys } from './keys.ts';

function dueQuery(tableName: string, shard: number, untilMs: number) {
  const { partitionKey, sortKey } = indexKeys(INDEX.due);
  return {
    TableName: tableName,
    IndexName: INDEX.due,
    KeyConditionExpression: '#pk = :pk AND #sk <= :until',
    ExpressionAttributeNames: { '#pk': partitionKey, '#sk': sortKey },
    ExpressionAttributeValues: { ':pk': keys.dueShard(shard), ':until': keys.dueSortKey(untilMs) },
  };
}

/** One page of due index entries (keys only), shard after shard. */
export async function keysDue(
  doc: DynamoDBDocumentClient,
  tableName: string,
  untilMs: number,
  cursor: PageCursor | null,
  limit: number,
) {
  const shard = cursor?.shard ?? 0;
  const out = await doc.send(
    new QueryCommand({
      ...dueQuery(tableName, shard, untilMs),
      ExclusiveStartKey: cursor?.key,
      Limit: limit,
    }),
  );
  return {
    items: out.Items ?? [],
    next: out.LastEvaluatedKey
      ? { shard, key: out.LastEvaluatedKey }
      : shard + 1 < FLEET_SHARDS
        ? { shard: shard + 1 }
        : null,
  };
}

/** Whether any shard holds an endpoint due at or before `untilMs`: one query of one key per shard. */
export async function anyDue(doc: DynamoDBDocumentClient, tableName: string, untilMs: number) {
  const found = await Promise.all(
    Array.from({ length: FLEET_SHARDS }, async (_, shard) => {
      const out = await doc.send(new QueryCommand({ ...dueQuery(tableName, shard, untilMs), Limit: 1 }));
      return (out.Items ?? []).length > 0;
    }),
  );
  return found.some(Boolean);
}
