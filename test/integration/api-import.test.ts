// `POST /v1/import` through the real admin handler: an RMM export read leniently, a dry run by
// default, every problem reported at its path with nothing written, apply writing everything (also
// past one transaction's 100 items), and a second import of the same files changing nothing.
import { describe, expect, it } from 'vitest';
import { RMM_FIELDS, RMM_GROUPS } from '#test/fixtures/rmm-solution.ts';
import { errorOf, useApi } from '#test/helpers/api.ts';

const api = useApi();
const importing = (body: unknown) => api.client.request('POST', '/v1/import', body);

interface Report {
  dryRun: boolean;
  applied: boolean;
  fields: { created: string[]; replaced: string[]; unchanged: string[] };
  groups: { created: string[]; replaced: string[]; unchanged: string[] };
}

describe('POST /v1/import', () => {
  it('is a dry run by default: answers what it would do and writes nothing', async () => {
    const before = await api.scan();
    const res = await importing({ fields: RMM_FIELDS, groups: RMM_GROUPS });
    expect(res.status, res.text).toBe(200);
    const report = res.body as Report;
    expect(report).toMatchObject({ dryRun: true, applied: false });
    expect(report.fields.created).toHaveLength(6);
    expect(report.groups.created).toEqual([
      'patching-managed-workstations',
      'patching-reboot-pending',
      'patching-stale',
      'av-missing',
      'macs',
      'managed-macs',
    ]);
    expect(await api.scan()).toEqual(before);
  });

  it('reports every problem with its path and writes nothing when one group is invalid', async () => {
    const broken = {
      dynamicGroups: [
        ...RMM_GROUPS.dynamicGroups,
        { name: 'Typo', blocks: [[{ field: 'Patch Polcy', operator: 'Equal', values: ['Managed'] }]] },
        { name: 'Bad op', blocks: [[{ field: 'AV Product', operator: 'Greater Than', values: ['1'] }]] },
        { name: 'Bad ref', blocks: [[{ field: 'Group', operator: 'Member of group', values: ['nope'] }]] },
      ],
    };
    const fields = { customFields: [...RMM_FIELDS.customFields, { fieldName: 'Broken', scope: 'Rack' }] };
    const before = await api.scan();

    const res = await importing({ fields, groups: broken, apply: true });

    expect(res.status, res.text).toBe(400);
    const paths = errorOf(res.body).details?.map((d) => d.path);
    expect(paths).toEqual([
      'fields[6].level',
      'groups[6].blocks[0][0].field',
      'groups[7].blocks[0][0].operator',
    ]);
    expect(await api.scan()).toEqual(before);

    // The unknown reference shows once the rest is valid (references are checked across the set).
    const onlyRef = { dynamicGroups: [broken.dynamicGroups[8]] };
    const ref = await importing({ groups: onlyRef });
    expect(errorOf(ref.body).details?.[0]).toMatchObject({ path: 'groups.bad-ref.blocks[0][0].values[0]' });
  });

  it('applies everything, and the same files again change nothing', async () => {
    const res = await importing({ fields: RMM_FIELDS, groups: RMM_GROUPS, apply: true });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ applied: true });

    const stored = await api.client.request('GET', '/v1/groups/managed-macs');
    expect(stored.body).toMatchObject({
      blocks: [
        [
          { field: 'Group', operator: 'Member of group', values: ['macs'] },
          { field: 'Patch Policy', operator: 'Equal', values: ['Managed'] },
        ],
      ],
    });
    const workstations = await api.client.request('GET', '/v1/groups/patching-managed-workstations');
    expect(
      (workstations.body as { blocks: { values: string[] }[][] }).blocks[0]?.map((l) => l.values),
    ).toEqual([['Managed'], ['False'], ['False'], ['Windows']]);

    const again = (await importing({ fields: RMM_FIELDS, groups: RMM_GROUPS, apply: true })).body as Report;
    expect(again.fields.created).toEqual([]);
    expect(again.fields.unchanged).toHaveLength(6);
    expect(again.groups.unchanged).toHaveLength(6);
  });

  it('writes an import larger than one transaction (150 groups)', async () => {
    const groups = Array.from({ length: 150 }, (_, i) => ({
      id: `bulk-${i}`,
      name: `Bulk ${i}`,
      blocks: [[{ field: 'Hostname', operator: 'Begins with', values: [`H${i}-`] }]],
    }));
    const res = await importing({ groups, apply: true });
    expect(res.status, res.text).toBe(200);
    expect((res.body as Report).groups.created).toHaveLength(150);
    const list = (await api.client.request('GET', '/v1/groups')).body as { groups: { id: string }[] };
    expect(list.groups.filter((g) => g.id.startsWith('bulk-'))).toHaveLength(150);
  }, 120_000);
});

describe('POST /v1/import, what exports carry', () => {
  it('reads groups named by name, repeated names, comma-listed options, padded values and a bare Is Blank', async () => {
    const fields = [
      { name: 'Backup  Tier', level: 'Client', type: 'Dropdown', options: ['Gold', 'Silver', 'Bronze'] },
      { name: 'Backup Enabled', level: 'Device', type: 'Yes/No' },
    ];
    const groups = [
      { name: 'Premium', blocks: [[{ field: 'Backup Tier', operator: 'Equal', value: 'Gold, Silver ' }]] },
      { name: 'Premium', blocks: [[{ field: 'backup tier', operator: 'Not Equal', values: [' Bronze'] }]] },
      {
        name: 'Premium without backup',
        blocks: [
          [
            { field: 'Group', operator: 'Member of group', values: ['premium'] },
            { field: 'Backup Enabled', operator: 'Equal', values: ['No'] },
            { field: 'BitLocker Key Backup Status', operator: 'is blank' },
          ],
        ],
      },
    ];
    const res = await importing({ fields, groups });
    expect(res.status, res.text).toBe(200);
    expect((res.body as Report).groups.created).toEqual(['premium', 'premium-2', 'premium-without-backup']);

    const applied = await importing({ fields, groups, apply: true });
    expect(applied.status, applied.text).toBe(200);
    const premium = await api.client.request('GET', '/v1/groups/premium');
    expect((premium.body as { blocks: { values: string[] }[][] }).blocks[0]?.[0]?.values).toEqual([
      'Gold',
      'Silver',
    ]);
    const second = await api.client.request('GET', '/v1/groups/premium-2');
    expect((second.body as { blocks: { values: string[] }[][] }).blocks[0]?.[0]?.values).toEqual(['Bronze']);
    const without = await api.client.request('GET', '/v1/groups/premium-without-backup');
    expect((without.body as { blocks: { values: string[] }[][] }).blocks[0]?.map((l) => l.values)).toEqual([
      ['premium'],
      ['False'],
      ['True'],
    ]);
    const tier = (await api.client.request('GET', '/v1/fields')).body as {
      fields: { name: string; level: string }[];
    };
    expect(tier.fields.map((f) => `${f.level}:${f.name}`)).toContain('COMPANY:Backup Tier');
  });
});
