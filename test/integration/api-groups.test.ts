// Group routes and the paginated lists of DESIGN §2 and §4 through the real query handler: listing
// the shipped pack, validation of PUT with paths, references and cycles, 409 / 404 on DELETE, and
// the `limit` / `cursor` rules of every list.
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { keys } from '#adapters/keys.ts';
import { transitionItem } from '#adapters/membership-writer.ts';
import { SHIPPED_GROUP_IDS } from '#core/group-pack.ts';
import { errorOf, useApi } from '#test/helpers/api.ts';

const STATUS = 'BitLocker Key Backup Status';
const DISABLE = 'Disable BitLocker Key Backup';
const ENABLE = 'Enable BitLocker Key Backup';
const JSON_HEADERS = { 'content-type': 'application/json' };

const api = useApi();

function group(over: Record<string, unknown> = {}) {
  return {
    name: 'Failed keys',
    description: 'Endpoints whose last backup failed',
    criteria: { all: [{ field: STATUS, operator: 'Contains any of', values: ['FAILED'] }] },
    alert: { on: ['enter'], severity: 'high' },
    ...over,
  };
}

const memberOf = (...ids: string[]) => ({
  criteria: { all: [{ field: 'Group', operator: 'Member of group', values: ids }] },
});

async function put(id: string, body: unknown) {
  return api.client.request('PUT', `/v1/groups/${id}`, body);
}

/** A rejected write: the status, the error shape, no crash and an unchanged table. */
async function expectRejected(
  send: () => Promise<{ status: number; body: unknown; text: string }>,
  status: number,
) {
  const before = await api.scan();
  const res = await send();
  expect(res.status, res.text).toBe(status);
  const error = errorOf(res.body);
  expect(api.crashes).toEqual([]);
  expect(await api.scan()).toEqual(before);
  return error;
}

describe('GET /v1/groups', () => {
  it('lists the four shipped groups with their member counts once they are seeded', async () => {
    // Prepare
    const empty = await api.client.request('GET', '/v1/groups');
    await api.seedShippedGroups();

    // Act
    const res = await api.client.request('GET', '/v1/groups');

    // Assess
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ groups: [] });
    expect(res.status).toBe(200);
    const groups = (res.body as { groups: { id: string; name: string; memberCount: number }[] }).groups;
    expect(groups.map((g) => g.id).sort()).toEqual(Object.values(SHIPPED_GROUP_IDS).sort());
    for (const g of groups) {
      expect(typeof g.name).toBe('string');
      expect(g.memberCount).toBe(0);
    }
    expect(groups.find((g) => g.id === SHIPPED_GROUP_IDS.failed)?.name).toBe('BitLocker Key Backup Failed');
  });
});

describe('GET /v1/groups/{groupId}', () => {
  it('answers a shipped group as stored', async () => {
    await api.seedShippedGroups();

    const res = await api.client.request('GET', `/v1/groups/${SHIPPED_GROUP_IDS.missing}`);

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: SHIPPED_GROUP_IDS.missing,
      name: 'BitLocker Key Missing',
      alert: { on: ['enter'], severity: 'high' },
    });
  });

  it('answers 404 for an unknown group', async () => {
    const res = await api.client.request('GET', '/v1/groups/no-such-group');

    expect(res.status).toBe(404);
    errorOf(res.body);
  });
});

describe('PUT /v1/groups/{groupId}', () => {
  it('creates a group, then replaces it', async () => {
    const created = await put('failed-keys', group());
    const replaced = await put('failed-keys', group({ name: 'Failed keys (renamed)' }));
    const read = await api.client.request('GET', '/v1/groups/failed-keys');

    expect([200, 201]).toContain(created.status);
    expect(replaced.status).toBe(200);
    expect(read.body).toMatchObject({ id: 'failed-keys', name: 'Failed keys (renamed)' });
  });

  it('accepts the RMM blocks shape and canonical spelling of options', async () => {
    const res = await put('blocks-shape', {
      name: 'Workstations enabled',
      blocks: [
        [
          { field: ENABLE, operator: 'Equal', values: ['windows workstation'] },
          { field: DISABLE, level: 'SITE', operator: 'Equal', values: ['False'] },
        ],
      ],
    });

    expect([200, 201]).toContain(res.status);
  });

  it.each([
    ['no name', group({ name: undefined }), 'name'],
    ['no criteria', group({ criteria: undefined }), 'criteria'],
    [
      'an unknown field',
      group({ criteria: { all: [{ field: 'Nope', operator: 'Equal', values: ['x'] }] } }),
      'criteria',
    ],
    [
      'an unknown operator',
      group({ criteria: { all: [{ field: STATUS, operator: 'Sounds like', values: ['x'] }] } }),
      'criteria',
    ],
    [
      'an operator that does not fit the type',
      group({ criteria: { all: [{ field: STATUS, operator: 'Greater than', values: ['1'] }] } }),
      'criteria',
    ],
    [
      'an option outside the dropdown',
      group({ criteria: { all: [{ field: ENABLE, operator: 'Equal', values: ['Sometimes'] }] } }),
      'criteria',
    ],
    [
      'an ambiguous field without level',
      group({ criteria: { all: [{ field: DISABLE, operator: 'Equal', values: ['False'] }] } }),
      'criteria',
    ],
    ['an empty all', group({ criteria: { all: [] } }), 'criteria'],
    ['an empty any', group({ criteria: { any: [] } }), 'criteria'],
    ['empty blocks', group({ criteria: undefined, blocks: [] }), 'blocks'],
    ['an empty block', group({ criteria: undefined, blocks: [[]] }), 'blocks'],
    ['alert.on without severity', group({ alert: { on: ['enter'] } }), 'alert'],
    ['an unknown alert event', group({ alert: { on: ['wobble'], severity: 'high' } }), 'alert'],
  ])('answers 400 with a path for %s', async (_what, body, pathStart) => {
    const error = await expectRejected(() => put('invalid-group', body), 400);

    expect(error.details?.length).toBeGreaterThan(0);
    expect(error.details?.some((d) => d.path.startsWith(pathStart))).toBe(true);
  });

  it.each([
    ['an array', '[]'],
    ['a string', '"x"'],
    ['null', 'null'],
    ['malformed JSON', '{"name":'],
  ])('answers 400 to a body that is %s', async (_what, body) => {
    await expectRejected(
      () => api.raw({ method: 'PUT', target: '/v1/groups/g', body, headers: JSON_HEADERS }),
      400,
    );
  });

  it('answers 400 to a criteria tree nested 100,000 deep', async () => {
    const leaf = JSON.stringify({ field: STATUS, operator: 'Is Blank', values: ['True'] });
    const criteria = `${'{"not":'.repeat(100_000)}${leaf}${'}'.repeat(100_000)}`;
    const body = `{"name":"deep","criteria":${criteria}}`;

    await expectRejected(
      () => api.raw({ method: 'PUT', target: '/v1/groups/deep', body, headers: JSON_HEADERS }),
      400,
    );
  });

  function notChain(depth: number) {
    let node: unknown = { field: STATUS, operator: 'Is Blank', values: ['True'] };
    for (let i = 0; i < depth; i++) node = { not: node };
    return node;
  }

  it('stores criteria nested as deep as DynamoDB allows and rejects one level more with 400', async () => {
    // 28 `not`s: the stored definition is 31 containers deep (definition, 28 nots, leaf, values).
    const deepest = await put('deep-ok', group({ criteria: notChain(28) }));
    const error = await expectRejected(() => put('deep-too', group({ criteria: notChain(29) })), 400);

    expect([200, 201], deepest.text).toContain(deepest.status);
    expect((await api.client.request('GET', '/v1/groups/deep-ok')).status).toBe(200);
    expect(error.details?.[0]?.path).toBe('criteria');
  });

  it('answers 400, not 500, to a definition too large to store', async () => {
    const values = Array.from({ length: 70_000 }, () => 'xxxxx');
    const error = await expectRejected(
      () =>
        put(
          'too-big',
          group({ criteria: undefined, blocks: [[{ field: STATUS, operator: 'Contains any of', values }]] }),
        ),
      400,
    );

    expect(error.details?.[0]?.path).toBe('blocks');
  });

  it('answers 400 to an unknown referenced group', async () => {
    const error = await expectRejected(() => put('refers-to-nothing', group(memberOf('no-such-group'))), 400);

    expect(JSON.stringify(error)).toContain('no-such-group');
  });

  it('answers 400 to a cycle, direct or through another group', async () => {
    // Prepare: b references a.
    await put('cycle-a', group());
    await put('cycle-b', group(memberOf('cycle-a')));

    // Act / Assess
    await expectRejected(() => put('cycle-a', group(memberOf('cycle-b'))), 400);
    await expectRejected(() => put('cycle-self', group(memberOf('cycle-self'))), 400);
  });

  it('answers 400 to an id that is not an id', async () => {
    await expectRejected(() => put('a%20b', group()), 400);
    await expectRejected(() => put('x'.repeat(129), group()), 400);
  });
});

describe('DELETE /v1/groups/{groupId}', () => {
  it('answers 409 for a group another group references, then deletes in dependency order', async () => {
    // Prepare
    await put('base-group', group());
    await put('dependent-group', group(memberOf('base-group')));

    // Act
    const error = await expectRejected(() => api.client.request('DELETE', '/v1/groups/base-group'), 409);
    const dependent = await api.client.request('DELETE', '/v1/groups/dependent-group');
    const base = await api.client.request('DELETE', '/v1/groups/base-group');
    const gone = await api.client.request('GET', '/v1/groups/base-group');

    // Assess
    expect(error.message).toContain('dependent-group');
    expect(dependent.status).toBe(200);
    expect(base.status).toBe(200);
    expect(gone.status).toBe(404);
  });

  it('answers 404 for an unknown group', async () => {
    await expectRejected(() => api.client.request('DELETE', '/v1/groups/never-was'), 404);
  });
});

describe('GET /v1/groups/{groupId}/members', () => {
  let members: string[];

  beforeAll(async () => {
    // Stand in for the evaluator: five member items of the failed group, three of them in acme.
    await api.seedShippedGroups();
    members = [];
    for (const [companyId, endpointId] of [
      ['acme', 'A1'],
      ['acme', 'A2'],
      ['acme', 'A3'],
      ['globex', 'G1'],
      ['globex', 'G2'],
    ] as const) {
      await api.seeder.send(
        new PutCommand({
          TableName: api.tableName,
          Item: {
            ...keys.member(SHIPPED_GROUP_IDS.failed, companyId, endpointId),
            type: 'MEMBER',
            groupId: SHIPPED_GROUP_IDS.failed,
            endpointId,
            companyId,
            since: new Date().toISOString(),
          },
        }),
      );
      members.push(endpointId);
    }
  });

  const membersPath = `/v1/groups/${SHIPPED_GROUP_IDS.failed}/members`;

  it('pages through every member with limit and cursor', async () => {
    // Act
    const first = await api.client.request('GET', `${membersPath}?limit=2`);
    const firstBody = first.body as { members: { endpointId: string }[]; cursor: string | null };
    const second = await api.client.request(
      'GET',
      `${membersPath}?limit=2&cursor=${encodeURIComponent(firstBody.cursor ?? '')}`,
    );
    const secondBody = second.body as { members: { endpointId: string }[]; cursor: string | null };
    const third = await api.client.request(
      'GET',
      `${membersPath}?limit=2&cursor=${encodeURIComponent(secondBody.cursor ?? '')}`,
    );
    const thirdBody = third.body as { members: { endpointId: string }[]; cursor: string | null };

    // Assess
    expect([first.status, second.status, third.status]).toEqual([200, 200, 200]);
    expect(firstBody.members).toHaveLength(2);
    expect(typeof firstBody.cursor).toBe('string');
    const seen = [...firstBody.members, ...secondBody.members, ...thirdBody.members].map((m) => m.endpointId);
    expect(seen.sort()).toEqual([...members].sort());
    expect(thirdBody.cursor).toBeNull();
  });

  it('hands out no cursor when a page ends exactly at the last member', async () => {
    const all = await api.client.request('GET', `${membersPath}?limit=${members.length}`);
    const allBody = all.body as { members: unknown[]; cursor: string | null };
    expect(allBody.members).toHaveLength(members.length);
    expect(allBody.cursor).toBeNull();

    const short = await api.client.request('GET', `${membersPath}?limit=${members.length - 1}`);
    expect(typeof (short.body as { cursor: string | null }).cursor).toBe('string');
  });

  it('filters by companyId with the contract member shape', async () => {
    const res = await api.client.request('GET', `${membersPath}?companyId=acme`);

    expect(res.status).toBe(200);
    const body = res.body as { members: Record<string, unknown>[]; cursor: string | null };
    expect(body.members.map((m) => m.endpointId).sort()).toEqual(['A1', 'A2', 'A3']);
    expect(Object.keys(body.members[0] ?? {})).toEqual(
      expect.arrayContaining(['endpointId', 'companyId', 'siteId', 'hostname', 'since']),
    );
    expect(body.cursor).toBeNull();
  });

  it.each(['0', '501', 'abc', '-1', '1.5', '', '1e2', '0050x'])('answers 400 to limit=%s', async (limit) => {
    const error = await expectRejected(() => api.client.request('GET', `${membersPath}?limit=${limit}`), 400);
    expect(error.details).toEqual([{ path: 'limit', message: 'must be an integer from 1 to 500' }]);
  });

  it('names an unknown query parameter in the error', async () => {
    const error = await expectRejected(() => api.client.request('GET', `${membersPath}?limt=5`), 400);
    expect(error.details).toEqual([{ path: 'limt', message: 'is not a known property' }]);
  });

  it.each(['1', '500', '010'])('accepts limit=%s', async (limit) => {
    const res = await api.client.request('GET', `${membersPath}?limit=${limit}`);
    expect(res.status, res.text).toBe(200);
  });

  it('answers 400 to a forged cursor', async () => {
    const raw = Buffer.from(
      JSON.stringify({ PK: `GROUP#${SHIPPED_GROUP_IDS.failed}`, SK: 'MEMBER#acme#A1' }),
    ).toString('base64url');
    for (const cursor of ['abc', raw, `kw1.${raw}.AAAAAAAAAAAAAAAA`]) {
      await expectRejected(() => api.client.request('GET', `${membersPath}?cursor=${cursor}`), 400);
    }
  });

  it('answers 400 to a cursor issued for another list', async () => {
    // Prepare: a real cursor for the unfiltered list of this group.
    const first = await api.client.request('GET', `${membersPath}?limit=1`);
    const cursor = encodeURIComponent((first.body as { cursor: string }).cursor);

    // Act / Assess
    await expectRejected(
      () => api.client.request('GET', `/v1/groups/${SHIPPED_GROUP_IDS.missing}/members?cursor=${cursor}`),
      400,
    );
    await expectRejected(
      () => api.client.request('GET', `${membersPath}?companyId=acme&cursor=${cursor}`),
      400,
    );
    await expectRejected(() => api.client.request('GET', `/v1/transitions?cursor=${cursor}`), 400);
  });

  it('answers 404 for an unknown group', async () => {
    await expectRejected(() => api.client.request('GET', '/v1/groups/no-such-group/members'), 404);
  });
});

describe('GET /v1/transitions', () => {
  beforeAll(async () => {
    // Stand in for the evaluator: three transitions of one endpoint.
    for (let i = 0; i < 3; i++) {
      await api.seeder.send(
        new PutCommand({
          TableName: api.tableName,
          Item: transitionItem(
            {
              transitionId: `t-${i}`,
              groupId: SHIPPED_GROUP_IDS.failed,
              groupName: 'BitLocker Key Backup Failed',
              endpointId: 'T-EP',
              hostname: null,
              companyId: 'acme',
              siteId: 'hq',
              companyName: null,
              siteName: null,
              event: i % 2 === 0 ? 'entered' : 'exited',
              occurredAt: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
              alert: true,
              severity: 'high',
              fields: {},
              statusText: null,
            },
            Math.floor(Date.now() / 1000) + 86_400,
          ),
        }),
      );
    }
  });

  it('lists newest first and pages with a cursor', async () => {
    const first = await api.client.request('GET', '/v1/transitions?limit=2');
    const firstBody = first.body as { transitions: { transitionId: string }[]; cursor: string | null };
    const second = await api.client.request(
      'GET',
      `/v1/transitions?limit=2&cursor=${encodeURIComponent(firstBody.cursor ?? '')}`,
    );
    const secondBody = second.body as { transitions: { transitionId: string }[]; cursor: string | null };

    expect(first.status).toBe(200);
    expect(firstBody.transitions.map((t) => t.transitionId)).toEqual(['t-2', 't-1']);
    expect(secondBody.transitions.map((t) => t.transitionId)).toEqual(['t-0']);
    expect(secondBody.cursor).toBeNull();
  });

  it('filters by endpoint and by group', async () => {
    const byEndpoint = await api.client.request('GET', '/v1/transitions?endpointId=T-EP');
    const byGroup = await api.client.request('GET', `/v1/transitions?groupId=${SHIPPED_GROUP_IDS.failed}`);
    const other = await api.client.request('GET', '/v1/transitions?endpointId=OTHER');

    expect((byEndpoint.body as { transitions: unknown[] }).transitions).toHaveLength(3);
    expect((byGroup.body as { transitions: unknown[] }).transitions).toHaveLength(3);
    expect(other.body).toEqual({ transitions: [], cursor: null });
  });

  it.each(['0', '501', 'abc'])('answers 400 to limit=%s', async (limit) => {
    await expectRejected(() => api.client.request('GET', `/v1/transitions?limit=${limit}`), 400);
  });

  it('answers 400 to a cursor issued for another filter', async () => {
    const first = await api.client.request('GET', '/v1/transitions?limit=1');
    const cursor = encodeURIComponent((first.body as { cursor: string }).cursor);

    await expectRejected(
      () => api.client.request('GET', `/v1/transitions?endpointId=T-EP&cursor=${cursor}`),
      400,
    );
  });
});
