// The per-company counters behind the status page's summary (functions/core/tally.ts decides what
// changes): markers and counter items, and the hourly not-reporting census. The evaluate function
// writes them; the admin function reads them (status-reads.ts).
//
// One event = one consistent read of the endpoint's marker + one transaction (the marker, guarded by
// its version, and the counter items the change moves). Only events that change a count get here
// (a first report, a company move, a transition of a counted group), never a routine report.
import {
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  applyTallyEvent,
  type CountedGroup,
  EMPTY_MARKER,
  type TallyEvent,
  type TallyMarker,
  tallyDeltas,
} from '#core/tally.ts';
import { batchGetAll } from './batch-get.ts';
import type { Item } from './items.ts';
import { FLEET_SHARDS, INDEX, ITEM, keys, partitionQuery, TABLE_SCHEMA } from './keys.ts';

/** A census older than this is run again by the next tick that claims it. */
export const CENSUS_EVERY_MS = 60 * 60 * 1000;
const STALE_AFTER_MS = 7 * 24 * 60 * 60 * 1000;
const ATTEMPTS = 8;

function markerFromItem(item: Item | undefined): { marker: TallyMarker; tv: number } {
  if (item === undefined) return { marker: EMPTY_MARKER, tv: 0 };
  return {
    marker: {
      companyId: typeof item.companyId === 'string' ? item.companyId : undefined,
      companyV: typeof item.companyV === 'number' ? item.companyV : -1,
      seen: item.seen === true,
      groups: (item.groups ?? {}) as TallyMarker['groups'],
    },
    tv: typeof item.tv === 'number' ? item.tv : 0,
  };
}

/** Lost the marker's race or met another transaction on a counter item: read again and retry. */
function isRace(e: unknown): boolean {
  const name = (e as { name?: string }).name;
  return name === 'TransactionCanceledException' || name === 'TransactionConflictException';
}

export function createTallyStore(doc: DynamoDBDocumentClient, tableName: string) {
  async function apply(endpointId: string, event: TallyEvent): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const got = await doc.send(
        new GetCommand({ TableName: tableName, Key: keys.tallyMarker(endpointId), ConsistentRead: true }),
      );
      const { marker, tv } = markerFromItem(got.Item);
      const next = applyTallyEvent(marker, event);
      if (next === undefined) return false;
      const counters = [...tallyDeltas(marker, next).values()].map(({ companyId, counts }) => {
        const names = Object.keys(counts);
        return {
          Update: {
            TableName: tableName,
            Key: keys.companyTally(endpointId, companyId),
            UpdateExpression: `SET #type = :type, companyId = if_not_exists(companyId, :c) ADD ${names
              .map((_, i) => `#n${i} :v${i}`)
              .join(', ')}`,
            ExpressionAttributeNames: {
              '#type': 'type',
              ...Object.fromEntries(names.map((n, i) => [`#n${i}`, n])),
            },
            ExpressionAttributeValues: {
              ':type': ITEM.companyTally,
              ':c': companyId,
              ...Object.fromEntries(names.map((n, i) => [`:v${i}`, counts[n]])),
            },
          },
        };
      });
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: tableName,
                  Item: { ...keys.tallyMarker(endpointId), type: ITEM.tallyMarker, ...next, tv: tv + 1 },
                  ConditionExpression: tv === 0 ? 'attribute_not_exists(PK)' : 'tv = :tv',
                  ...(tv === 0 ? {} : { ExpressionAttributeValues: { ':tv': tv } }),
                },
              },
              ...counters,
            ],
          }),
        );
        return true;
      } catch (e: unknown) {
        if (!isRace(e) || attempt >= ATTEMPTS - 1) throw e;
        await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** attempt));
      }
    }
  }

  return {
    /** An endpoint's first record, or a record that moved it to another company. */
    endpointSeen: (endpointId: string, companyId: string, rev: number) =>
      apply(endpointId, { kind: 'endpoint', companyId, rev }),

    /** A recorded transition of a counted group. */
    transition: (t: {
      endpointId: string;
      groupId: CountedGroup;
      event: 'entered' | 'exited';
      companyId: string;
      occurredAt: string;
      transitionId: string;
    }) =>
      apply(t.endpointId, {
        kind: 'transition',
        groupId: t.groupId,
        entered: t.event === 'entered',
        companyId: t.companyId,
        version: `${t.occurredAt}#${t.transitionId}`,
      }),

    /**
     * Counts each company's endpoints whose last report is older than 7 days, at most once per
     * CENSUS_EVERY_MS across all instances (claimed with a conditional write). A keys-only walk of the
     * fleet index and a read of each endpoint's company and report time: about 0.5 read units per
     * endpoint per hour. Returns whether this call ran it.
     */
    async censusIfDue(nowMs: number): Promise<boolean> {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: keys.censusRun,
            UpdateExpression: 'SET startedAtMs = :now, #type = :type',
            ConditionExpression: 'attribute_not_exists(startedAtMs) OR startedAtMs < :due',
            ExpressionAttributeNames: { '#type': 'type' },
            ExpressionAttributeValues: { ':now': nowMs, ':due': nowMs - CENSUS_EVERY_MS, ':type': 'CENSUS' },
          }),
        );
      } catch (e: unknown) {
        if ((e as { name?: string }).name === 'ConditionalCheckFailedException') return false;
        throw e;
      }
      const stale = new Map<string, { companyId: string; n: number }>();
      for (let shard = 0; shard < FLEET_SHARDS; shard++) {
        const pages = paginateQuery(
          { client: doc },
          {
            TableName: tableName,
            ...partitionQuery({ index: INDEX.fleet, partition: keys.fleetShard(shard) }),
          },
        );
        for await (const page of pages) {
          const endpointKeys = (page.Items ?? []).map((k) => ({
            PK: k[TABLE_SCHEMA.partitionKey],
            SK: k[TABLE_SCHEMA.sortKey],
          }));
          for (const e of await batchGetAll(doc, tableName, endpointKeys)) {
            const companyId = String(e.companyId);
            const entry = stale.get(companyId.toLowerCase()) ?? { companyId, n: 0 };
            if (Number(e.observedAtMs) < nowMs - STALE_AFTER_MS) entry.n++;
            stale.set(companyId.toLowerCase(), entry);
          }
        }
      }
      const asOf = new Date(nowMs).toISOString();
      for (const { companyId, n } of stale.values()) {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: keys.census(companyId),
            UpdateExpression: 'SET companyId = :c, stale = :n, asOf = :asOf',
            ExpressionAttributeValues: { ':c': companyId, ':n': n, ':asOf': asOf },
          }),
        );
      }
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: keys.censusRun,
          UpdateExpression: 'SET asOf = :asOf',
          ExpressionAttributeValues: { ':asOf': asOf },
        }),
      );
      return true;
    },
  };
}

export type TallyStore = ReturnType<typeof createTallyStore>;
