// A group's member items and its transitions (GSI1) are written over GROUP_SHARDS partitions per group
// (no hot partition when a change moves the whole fleet into one group) and merged when read: the
// member list keeps one stable order with every member exactly once across pages, with or without a
// company filter; the group's transitions come newest first; memberCount sums the shards. Tables
// written before the shards hold members in one partition per group: those are merged too, deleted
// when their member leaves or the group is purged, moved on a company move, and moved to their shards
// by `npm run migrate` (member-migration.ts).
import { DeleteCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { GROUP_SHARDS, INDEX, keys, partitionQuery } from '#adapters/keys.ts';
import { migrateGroupMembers } from '#adapters/member-migration.ts';
import { transitionItem } from '#adapters/membership-writer.ts';
import { compareKeys } from '#adapters/merged-query.ts';
import { createQueryStore } from '#adapters/query-store.ts';
import { parseGroupDefinition } from '#core/criteria/index.ts';
import { SHIPPED_GROUP_IDS } from '#core/group-pack.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import type { Transition } from '#core/transition.ts';
import type { PageCursor } from '#functions/evaluate/ports.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { useApi } from '#test/helpers/api.ts';
import { dynamoEndpoint } from '#test/helpers/dynamo.ts';
import { type EvaluatorHarness, evaluatorHarness } from '#test/helpers/evaluator.ts';

const GROUP = SHIPPED_GROUP_IDS.failed;
const STATUS = 'BitLocker Key Backup Status';

/** Members: ids beyond U+FFFF and in U+E000–U+FFFF order differently in UTF-8 and UTF-16. */
const COMPANIES = ['acme', 'Globex', 'initech'];
const members = Array.from({ length: 60 }, (_, i) => ({
  companyId: COMPANIES[i % 3] as string,
  endpointId:
    i % 10 === 0 ? `\u{1F600}-${i}` : i % 10 === 5 ? `\uFB00-${i}` : `EP-${String(i).padStart(2, '0')}`,
  // Every fifth written by the version before the shards, in the group's one partition.
  legacy: i % 5 === 1,
}));
const sortKeyOf = (m: { companyId: string; endpointId: string }) =>
  `MEMBER#${m.companyId.toLowerCase()}#${m.endpointId}`;
const inOrder = (list: typeof members) =>
  [...list].sort((a, b) => compareKeys(sortKeyOf(a), sortKeyOf(b))).map((m) => m.endpointId);

const transitions: Transition[] = Array.from({ length: 36 }, (_, i) => ({
  transitionId: `tr-${String(i).padStart(2, '0')}`,
  groupId: GROUP,
  groupName: 'BitLocker Key Backup Failed',
  endpointId: `EP-${i % 12}`,
  hostname: null,
  companyId: 'acme',
  siteId: 'hq',
  companyName: null,
  siteName: null,
  event: i % 2 === 0 ? 'entered' : 'exited',
  // Three share each second: the order falls back to the id.
  occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(i / 3))).toISOString(),
  alert: false,
  severity: null,
  fields: {},
  statusText: null,
}));
/** Every sixth transition was indexed by the version before the shards, under `GROUP#<g>`. */
const legacyTransition = (i: number) => i % 6 === 3;

describe('a group spread over its shards, read through the API', () => {
  const api = useApi(async (started) => {
    await started.seedShippedGroups();
    const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
    for (const { legacy, ...m } of members) {
      const key = legacy
        ? keys.legacyMember(GROUP, m.companyId, m.endpointId)
        : keys.member(GROUP, m.companyId, m.endpointId);
      await started.seeder.send(
        new PutCommand({
          TableName: started.tableName,
          Item: { ...key, type: 'MEMBER', groupId: GROUP, ...m, since: '2026-01-01T00:00:00Z' },
        }),
      );
    }
    for (const [i, t] of transitions.entries()) {
      const item = transitionItem(t, expiresAt);
      const gsi1 = legacyTransition(i) ? { GSI1PK: keys.legacyGroupPartition(GROUP) } : {};
      await started.seeder.send(new PutCommand({ TableName: started.tableName, Item: { ...item, ...gsi1 } }));
    }
  });

  const countIn = async (partition: string, index?: typeof INDEX.byParent) => {
    const out = await api.seeder.send(
      new QueryCommand({
        TableName: api.tableName,
        ...partitionQuery({ partition, ...(index === undefined ? {} : { index }) }),
        Select: 'COUNT',
      }),
    );
    return out.Count ?? 0;
  };

  it("writes an endpoint's member item and its group transitions to the same shard", () => {
    for (const id of ['EP-1', 'EP-2', '\u{1F600}', 'LAPTOP-42']) {
      const shard = keys.member(GROUP, 'acme', id).PK;
      expect(keys.transitionByGroup(GROUP, id, '2026-01-01T00:00:00.000Z', 't').GSI1PK).toBe(shard);
      expect(keys.groupShard(GROUP, id)).toBe(shard);
      expect(keys.groupPartitions(GROUP)).toContain(shard);
    }
    expect(keys.groupPartitions(GROUP)).toHaveLength(GROUP_SHARDS + 1);
  });

  it('spreads members and transitions over every shard', async () => {
    const [legacy, ...shards] = keys.groupPartitions(GROUP);
    const memberCounts = await Promise.all(shards.map((p) => countIn(p)));
    expect(
      memberCounts.every((n) => n > 0),
      String(memberCounts),
    ).toBe(true);
    expect(await countIn(legacy as string)).toBe(members.filter((m) => m.legacy).length);
    const indexCounts = await Promise.all(shards.map((p) => countIn(p, INDEX.byParent)));
    expect(
      indexCounts.every((n) => n > 0),
      String(indexCounts),
    ).toBe(true);
  });

  const pageAll = async (path: string, limit: number, field: 'members' | 'transitions') => {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await api.client.request(
        'GET',
        `${path}${sep}limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      expect(res.status, res.text).toBe(200);
      const body = res.body as Record<string, unknown> & { cursor: string | null };
      const items = body[field] as { endpointId: string; transitionId: string }[];
      pages.push(items.map((i) => (field === 'members' ? i.endpointId : i.transitionId)));
      cursor = body.cursor;
    } while (cursor !== null && pages.length < 200);
    return pages;
  };

  it.each([1, 7, 500])('lists every member once, in one stable order, in pages of %i', async (limit) => {
    const pages = await pageAll(`/v1/groups/${GROUP}/members`, limit, 'members');
    expect(pages.flat()).toEqual(inOrder(members));
    // Every page but the last is full, and the last is not empty.
    for (const page of pages.slice(0, -1)) expect(page).toHaveLength(limit);
    expect(pages[pages.length - 1]?.length).toBeGreaterThan(0);
  });

  it.each([1, 7, 500])(
    'lists one company, shards and old partition merged, in pages of %i',
    async (limit) => {
      for (const company of ['acme', 'GLOBEX']) {
        const pages = await pageAll(`/v1/groups/${GROUP}/members?companyId=${company}`, limit, 'members');
        const expected = inOrder(members.filter((m) => m.companyId.toLowerCase() === company.toLowerCase()));
        expect(pages.flat(), company).toEqual(expected);
        expect(expected.length).toBe(20);
      }
    },
  );

  it("lists a company's members in the status page's endpoint list", async () => {
    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api.client.request(
        'GET',
        `/v1/companies/initech/endpoints?groupId=${GROUP}&limit=3${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      expect(res.status, res.text).toBe(200);
      const body = res.body as { endpoints: unknown[]; cursor: string | null };
      // No endpoint items were seeded: the page lists none, but pages through every member.
      expect(body.endpoints).toEqual([]);
      pages.push(String(body.cursor));
      cursor = body.cursor;
    } while (cursor !== null && pages.length < 50);
    expect(pages).toHaveLength(7);
  });

  it.each([1, 7, 100])(
    'lists the group transitions newest first, each once, in pages of %i',
    async (limit) => {
      const pages = await pageAll(`/v1/transitions?groupId=${GROUP}`, limit, 'transitions');
      const expected = [...transitions]
        .sort((a, b) => compareKeys(`${b.occurredAt}#${b.transitionId}`, `${a.occurredAt}#${a.transitionId}`))
        .map((t) => t.transitionId);
      expect(pages.flat()).toEqual(expected);
    },
  );

  it('counts the members of every shard and the old partition', async () => {
    const res = await api.client.request('GET', '/v1/groups');
    const groups = (res.body as { groups: { id: string; memberCount: number }[] }).groups;
    expect(groups.find((g) => g.id === GROUP)?.memberCount).toBe(members.length);
  });

  it('pages a purge through every partition, continuing a cursor written before the shards', async () => {
    const store = createGroupStore(api.seeder, api.tableName);
    const legacy = members.filter((m) => m.legacy);
    const [first] = [...legacy].sort((a, b) => compareKeys(sortKeyOf(a), sortKeyOf(b)));
    // A purge job's checkpoint from the version before the shards: the pre-shard partition's last key.
    let cursor: PageCursor | null = {
      key: { PK: keys.legacyGroupPartition(GROUP), SK: sortKeyOf(first as (typeof members)[number]) },
    };
    const seen: string[] = [];
    for (let pages = 0; cursor !== null && pages < 100; pages++) {
      const page = await store.memberPage(GROUP, cursor, 4);
      seen.push(...page.items.map((m) => m.endpointId));
      cursor = page.next;
    }
    expect(cursor).toBeNull();
    expect(seen.sort()).toEqual(
      members
        .filter((m) => m !== first)
        .map((m) => m.endpointId)
        .sort(),
    );
  });

  it('reads about a page of items per page, one Query per partition', async () => {
    const client = createDynamoClient(await dynamoEndpoint());
    let queries = 0;
    let itemsRead = 0;
    client.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        queries += 1;
        itemsRead += ((out.output as { Count?: number }).Count ?? 0) as number;
        return out;
      },
      { step: 'initialize', name: 'countItems' },
    );
    const store = createQueryStore(documentClient(client), api.tableName);
    const partitions = GROUP_SHARDS + 1;
    for (const limit of [1, 7, 30, 50]) {
      let start: Record<string, unknown> | undefined;
      let pages = 0;
      queries = 0;
      itemsRead = 0;
      let listed = 0;
      do {
        const page = await store.members(GROUP, undefined, limit, start);
        listed += page.items.length;
        start = page.lastKey;
        pages += 1;
      } while (start !== undefined);
      expect(listed).toBe(members.length);
      // Each partition's first read is its share of the page and about one standard deviation more
      // (merged-query.ts batchSize); reading a partition again is the exception. Measured: see
      // docs/scale.md section 2.
      const share = (limit + 1) / partitions;
      expect(queries / pages, `limit ${limit}`).toBeLessThanOrEqual(partitions + 1);
      expect(itemsRead / pages, `limit ${limit}`).toBeLessThanOrEqual(
        limit + 1 + partitions * (Math.ceil(Math.sqrt(share)) + 2),
      );
    }
    client.destroy();
  });
});

/** Moves a member item to the group's pre-shard partition, as the version before the shards kept it. */
async function unshard(t: EvaluatorHarness, groupId: string, companyId: string, endpointId: string) {
  const key = keys.member(groupId, companyId, endpointId);
  const out = await t.doc.send(
    new QueryCommand({
      TableName: t.tableName,
      ...partitionQuery({ partition: key.PK, sortPrefix: key.SK }),
      ConsistentRead: true,
    }),
  );
  const [item] = out.Items ?? [];
  expect(item, `${groupId} ${endpointId}`).toBeDefined();
  await t.doc.send(new DeleteCommand({ TableName: t.tableName, Key: key }));
  await t.doc.send(
    new PutCommand({
      TableName: t.tableName,
      Item: { ...item, ...keys.legacyMember(groupId, companyId, endpointId) },
    }),
  );
}

const legacyItems = async (t: EvaluatorHarness, groupId: string) => {
  const out = await t.doc.send(
    new QueryCommand({
      TableName: t.tableName,
      ...partitionQuery({ partition: keys.legacyGroupPartition(groupId), sortPrefix: keys.membersPrefix() }),
      ConsistentRead: true,
    }),
  );
  return (out.Items ?? []).map((i) => String(i.endpointId)).sort();
};

describe('upgrading a table written before the shards', () => {
  const clock = () => Date.parse('2026-11-26T10:00:00Z');

  it('deletes the old item of a member that leaves', async () => {
    const t = await evaluatorHarness({ now: clock });
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: SCRIPT_OUTPUT.failed });
    await t.report('LAPTOP-2', 1, { [STATUS]: SCRIPT_OUTPUT.failed });
    await t.settle();
    await unshard(t, GROUP, 'contoso', 'LAPTOP-1');
    expect(await legacyItems(t, GROUP)).toEqual(['LAPTOP-1']);
    expect(await t.memberItems(GROUP)).toEqual(['contoso/LAPTOP-1', 'contoso/LAPTOP-2']);

    await t.report('LAPTOP-1', 2, { [STATUS]: SCRIPT_OUTPUT.success });
    await t.report('LAPTOP-2', 2, { [STATUS]: SCRIPT_OUTPUT.success });
    await t.settle();

    expect(await legacyItems(t, GROUP)).toEqual([]);
    expect(await t.memberItems(GROUP)).toEqual([]);
    expect(await t.groups.memberCount(GROUP)).toBe(0);
    expect(await t.transitions(GROUP)).toHaveLength(4);
  });

  it('moves an old item to its shard when its endpoint changes company', async () => {
    const t = await evaluatorHarness({ now: clock });
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: SCRIPT_OUTPUT.failed });
    await t.settle();
    await unshard(t, GROUP, 'contoso', 'LAPTOP-1');

    await t.report('LAPTOP-1', 2, { [STATUS]: SCRIPT_OUTPUT.failed }, { companyId: 'globex' });
    await t.settle();

    expect(await legacyItems(t, GROUP)).toEqual([]);
    expect(await t.memberItems(GROUP)).toEqual(['globex/LAPTOP-1']);
    expect(await t.transitions(GROUP)).toHaveLength(1);
  });

  it('purges a deleted group from every shard and the old partition', async () => {
    const t = await evaluatorHarness({ now: clock });
    await t.settle();
    const ids = Array.from({ length: 14 }, (_, i) => `LAPTOP-${i}`);
    for (const id of ids) await t.report(id, 1, { [STATUS]: SCRIPT_OUTPUT.failed });
    await t.settle();
    const laptops = parseGroupDefinition(
      'laptops',
      { name: 'Laptops', blocks: [[{ field: 'Endpoint Type', operator: 'Equal', values: ['laptop'] }]] },
      SHIPPED_CATALOGUE,
    );
    await t.groups.put(laptops, t.at(2));
    await t.settle();
    expect(await t.memberItems('laptops')).toHaveLength(ids.length);
    const shards = await Promise.all(
      keys.groupPartitions('laptops').map(async (partition) => {
        const out = await t.doc.send(
          new QueryCommand({ TableName: t.tableName, ...partitionQuery({ partition }), Select: 'COUNT' }),
        );
        return out.Count ?? 0;
      }),
    );
    expect(shards.slice(1).filter((n) => n > 0).length, String(shards)).toBeGreaterThan(1);
    for (const id of ids.slice(0, 4)) await unshard(t, 'laptops', 'contoso', id);

    await t.groups.delete('laptops');
    await t.settle();

    expect(await t.memberItems('laptops')).toEqual([]);
    expect(await legacyItems(t, 'laptops')).toEqual([]);
    expect(await t.groups.memberCount('laptops')).toBe(0);
    for (const id of ids) expect(await t.groupsOf(id)).toEqual([GROUP]);
  });

  it('npm run migrate moves old items to their shards and deletes stale ones', async () => {
    const t = await evaluatorHarness({ now: clock });
    await t.settle();
    const ids = ['LAPTOP-1', 'LAPTOP-2', 'LAPTOP-3', 'LAPTOP-4', 'LAPTOP-5'];
    for (const id of ids) await t.report(id, 1, { [STATUS]: SCRIPT_OUTPUT.failed });
    await t.report('LAPTOP-9', 1, { [STATUS]: SCRIPT_OUTPUT.success });
    await t.settle();
    const since = (await t.repo.getEndpoint('LAPTOP-1', true))?.groups[GROUP];
    for (const id of ids) await unshard(t, GROUP, 'contoso', id);
    // Stale: an endpoint not in the group, and one that does not exist.
    for (const endpointId of ['LAPTOP-9', 'GONE-1']) {
      await t.doc.send(
        new PutCommand({
          TableName: t.tableName,
          Item: {
            ...keys.legacyMember(GROUP, 'contoso', endpointId),
            type: 'MEMBER',
            groupId: GROUP,
            endpointId,
            companyId: 'contoso',
            since: '2026-01-01T00:00:00Z',
          },
        }),
      );
    }
    expect(await legacyItems(t, GROUP)).toHaveLength(7);

    const result = await migrateGroupMembers(t.doc, t.tableName, [GROUP, 'no-such-group'], {
      concurrency: 3,
    });

    expect(result).toEqual({ moved: 5, removed: 2, left: 0 });
    expect(await legacyItems(t, GROUP)).toEqual([]);
    expect(await t.memberItems(GROUP)).toEqual(ids.map((id) => `contoso/${id}`));
    const [one] =
      (
        await t.doc.send(
          new QueryCommand({
            TableName: t.tableName,
            ...partitionQuery({
              partition: keys.member(GROUP, 'contoso', 'LAPTOP-1').PK,
              sortPrefix: 'MEMBER#contoso#LAPTOP-1',
            }),
            ConsistentRead: true,
          }),
        )
      ).Items ?? [];
    expect(one?.since).toBe(since);
    expect(await migrateGroupMembers(t.doc, t.tableName, [GROUP])).toEqual({ moved: 0, removed: 0, left: 0 });

    // After the move, a member leaving deletes its item from its shard.
    await t.report('LAPTOP-1', 2, { [STATUS]: SCRIPT_OUTPUT.success });
    await t.settle();
    expect(await t.memberItems(GROUP)).toEqual(ids.slice(1).map((id) => `contoso/${id}`));
  });

  it('npm run migrate never puts back a member that leaves during its move', async () => {
    const t = await evaluatorHarness({ now: clock });
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: SCRIPT_OUTPUT.failed });
    await t.settle();
    await unshard(t, GROUP, 'contoso', 'LAPTOP-1');
    // The migration's own client: just before its first transaction, the endpoint leaves the group
    // the way an evaluation does (membership map, revision, and the item in both places).
    const client = createDynamoClient(await dynamoEndpoint());
    let raced = false;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && !raced) {
          raced = true;
          await t.doc.send(
            new UpdateCommand({
              TableName: t.tableName,
              Key: keys.endpoint('LAPTOP-1'),
              UpdateExpression: 'REMOVE #groups.#g SET grev = grev + :one',
              ExpressionAttributeNames: { '#groups': 'groups', '#g': GROUP },
              ExpressionAttributeValues: { ':one': 1 },
            }),
          );
          await t.doc.send(
            new DeleteCommand({
              TableName: t.tableName,
              Key: keys.legacyMember(GROUP, 'contoso', 'LAPTOP-1'),
            }),
          );
        }
        return next(args);
      },
      { step: 'initialize', name: 'concurrentLeave' },
    );

    const result = await migrateGroupMembers(documentClient(client), t.tableName, [GROUP]);
    client.destroy();

    expect(raced).toBe(true);
    expect(result).toEqual({ moved: 0, removed: 1, left: 0 });
    expect(await t.memberItems(GROUP)).toEqual([]);
    expect(await legacyItems(t, GROUP)).toEqual([]);
  });
});
