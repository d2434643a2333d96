// The fleet-wide transition list is written over several index partitions (no hot partition when a
// fleet re-evaluation records thousands of transitions a second) and merged when read: pages must
// still come newest first, each transition exactly once, with a cursor until the last page.
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { INDEX, indexKeys, keys, TRANSITION_SHARDS } from '#adapters/keys.ts';
import { transitionItem } from '#adapters/membership-writer.ts';
import { SHIPPED_GROUP_IDS } from '#core/group-pack.ts';
import { useApi } from '#test/helpers/api.ts';

const api = useApi();
const COUNT = 45;
const ids = Array.from({ length: COUNT }, (_, i) => `sharded-${String(i).padStart(2, '0')}`);

interface Page {
  transitions: { transitionId: string; occurredAt: string }[];
  cursor: string | null;
}

describe('GET /v1/transitions across the fleet', () => {
  beforeAll(async () => {
    for (const [i, id] of ids.entries()) {
      await api.seeder.send(
        new PutCommand({
          TableName: api.tableName,
          Item: transitionItem(
            {
              transitionId: id,
              groupId: SHIPPED_GROUP_IDS.failed,
              groupName: 'BitLocker Key Backup Failed',
              endpointId: `EP-${i % 5}`,
              hostname: null,
              companyId: 'acme',
              siteId: 'hq',
              companyName: null,
              siteName: null,
              event: 'entered',
              // Two transitions share each second: the order falls back to the id.
              occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(i / 2))).toISOString(),
              alert: false,
              severity: null,
              fields: {},
              statusText: null,
            },
            Math.floor(Date.now() / 1000) + 86_400,
          ),
        }),
      );
    }
  });

  it('spreads the index over its partitions', async () => {
    const { partitionKey } = indexKeys(INDEX.byCollection);
    const used = [];
    for (let shard = 0; shard < TRANSITION_SHARDS; shard++) {
      const out = await api.seeder.send(
        new QueryCommand({
          TableName: api.tableName,
          IndexName: INDEX.byCollection,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': partitionKey },
          ExpressionAttributeValues: { ':pk': keys.transitionsCollection(shard) },
        }),
      );
      used.push(out.Items?.length ?? 0);
    }
    expect(used.reduce((a, b) => a + b, 0)).toBe(COUNT);
    expect(used.filter((n) => n > 0).length).toBeGreaterThanOrEqual(TRANSITION_SHARDS / 2);
  });

  it.each([1, 7, 45, 100])('pages through every transition once, newest first (limit %i)', async (limit) => {
    const seen: Page['transitions'] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const res = await api.client.request('GET', `/v1/transitions?${query}`);
      expect(res.status).toBe(200);
      const body = res.body as Page;
      expect(body.transitions.length).toBeLessThanOrEqual(limit);
      if (body.cursor !== null) expect(body.transitions).toHaveLength(limit);
      seen.push(...body.transitions);
      cursor = body.cursor;
      pages++;
    } while (cursor !== null && pages < 100);
    const expected = [...ids].reverse();
    expect(seen.map((t) => t.transitionId)).toEqual(expected);
    expect(pages).toBe(Math.ceil(COUNT / limit));
  });
});
