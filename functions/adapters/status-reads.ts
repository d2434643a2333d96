// The status page's reads for the admin function: the per-company summary from the counters the
// evaluate function keeps (tally-store.ts), and a page of a company's endpoints.
import { type DynamoDBDocumentClient, paginateQuery, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { COUNTED_GROUPS, type CompanySummary, counterName } from '#core/tally.ts';
import { batchGetAll } from './batch-get.ts';
import type { Item } from './items.ts';
import { INDEX, keyAttributes, keys, partitionQuery, TABLE_SCHEMA, TALLY_SHARDS } from './keys.ts';

export function createStatusReads(doc: DynamoDBDocumentClient, tableName: string) {
  async function queryAll(partition: string): Promise<Item[]> {
    const items: Item[] = [];
    const pages = paginateQuery({ client: doc }, { TableName: tableName, ...partitionQuery({ partition }) });
    for await (const page of pages) items.push(...(page.Items ?? []));
    return items;
  }

  return {
    /** One page of a company's endpoint ids (GSI3, keys only), by site then id. */
    async companyEndpointIds(companyId: string, limit: number, start?: Record<string, unknown>) {
      const entries: Item[] = [];
      let from = start;
      // One entry past the page tells whether more exist, so the last page hands out no cursor.
      do {
        const out = await doc.send(
          new QueryCommand({
            TableName: tableName,
            ...partitionQuery({
              index: INDEX.endpointsByParent,
              partition: keys.companyEndpoints(companyId),
            }),
            ExclusiveStartKey: from,
            Limit: limit + 1 - entries.length,
          }),
        );
        entries.push(...(out.Items ?? []));
        from = out.LastEvaluatedKey;
      } while (from !== undefined && entries.length <= limit);
      const page = entries.slice(0, limit);
      const last = page[page.length - 1];
      const names = keyAttributes(INDEX.endpointsByParent);
      return {
        ids: page.map((k) => String(k[TABLE_SCHEMA.partitionKey]).slice('ENDPOINT#'.length)),
        lastKey:
          entries.length > limit && last !== undefined
            ? Object.fromEntries(names.map((n) => [n, last[n]]))
            : undefined,
      };
    },

    /**
     * Every company's line: one Query per counter shard and one of the census partition, then the
     * companies' names by key (one BatchGetItem per 100 companies). Requests grow with the number of
     * companies / 100, never with the number of endpoints.
     */
    async summary(): Promise<CompanySummary[]> {
      const [census, ...shards] = await Promise.all([
        queryAll(keys.censusPartition),
        ...Array.from({ length: TALLY_SHARDS }, (_, s) => queryAll(keys.tallyPartition(s))),
      ]);
      const run = census?.find((i) => i.SK === keys.censusRun.SK);
      const lines = new Map<string, { companyId: string; counts: Record<string, number> }>();
      for (const item of (shards as Item[][]).flat()) {
        const key = String(item.SK);
        const line = lines.get(key) ?? { companyId: String(item.companyId), counts: {} };
        for (const name of ['endpoints', ...COUNTED_GROUPS.map(counterName)])
          line.counts[name] = (line.counts[name] ?? 0) + Number(item[name] ?? 0);
        lines.set(key, line);
      }
      const staleOf = new Map(
        (census ?? [])
          .filter((i) => i.SK !== keys.censusRun.SK && i.asOf === run?.asOf)
          .map((i) => [String(i.SK), Number(i.stale)]),
      );
      const companies = await batchGetAll(
        doc,
        tableName,
        [...lines.values()].map((l) => keys.company(l.companyId)),
      );
      const names = new Map(companies.map((c) => [String(c.companyId).toLowerCase(), c.name]));
      return [...lines.entries()]
        .filter(([, l]) => (l.counts.endpoints ?? 0) > 0)
        .map(([key, l]) => ({
          companyId: l.companyId,
          name:
            typeof names.get(l.companyId.toLowerCase()) === 'string'
              ? String(names.get(l.companyId.toLowerCase()))
              : null,
          endpoints: l.counts.endpoints ?? 0,
          failed: l.counts[counterName('bitlocker-key-backup-failed')] ?? 0,
          keyMissing: l.counts[counterName('bitlocker-key-missing')] ?? 0,
          notReporting7d: staleOf.get(key) ?? 0,
          staleAsOf: typeof run?.asOf === 'string' ? run.asOf : null,
        }))
        .sort(
          (a, b) =>
            b.failed + b.keyMissing - (a.failed + a.keyMissing) || a.companyId.localeCompare(b.companyId),
        );
    },
  };
}

export type StatusReads = ReturnType<typeof createStatusReads>;
