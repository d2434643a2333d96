// Member items carry their company case-folded in the key, so `?companyId=` matches ignoring case
// like every other id comparison, and an endpoint whose company id changes only in case keeps one
// member item per group (rewritten, not deleted and re-put under the same key in one transaction).
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { keys } from '#adapters/keys.ts';
import { SHIPPED_GROUP_IDS } from '#core/group-pack.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { useApi } from '#test/helpers/api.ts';
import { evaluatorHarness } from '#test/helpers/evaluator.ts';

const FAILED_GROUP = SHIPPED_GROUP_IDS.failed;
const STATUS = 'BitLocker Key Backup Status';

describe('member list ?companyId=', () => {
  const api = useApi(async (started) => {
    await started.seedShippedGroups();
    for (const [companyId, endpointId] of [
      ['Contoso', 'C1'],
      ['contoso', 'C2'],
      ['fabrikam', 'F1'],
    ] as const) {
      await started.seeder.send(
        new PutCommand({
          TableName: started.tableName,
          Item: {
            ...keys.member(FAILED_GROUP, companyId, endpointId),
            type: 'MEMBER',
            groupId: FAILED_GROUP,
            endpointId,
            companyId,
            since: new Date().toISOString(),
          },
        }),
      );
    }
  });

  it('matches the company ignoring case', async () => {
    for (const asked of ['contoso', 'CONTOSO', 'Contoso']) {
      const res = await api.client.request('GET', `/v1/groups/${FAILED_GROUP}/members?companyId=${asked}`);
      expect(res.status).toBe(200);
      const ids = (res.body as { members: { endpointId: string }[] }).members.map((m) => m.endpointId);
      expect(ids.sort(), asked).toEqual(['C1', 'C2']);
    }
  });
});

describe('an endpoint whose company id changes only in case', () => {
  it('keeps one member item per group, under the new spelling', async () => {
    let clock = Date.parse('2026-11-26T10:00:00Z');
    const t = await evaluatorHarness({ now: () => clock });
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: SCRIPT_OUTPUT.failed });
    await t.settle();
    expect(await t.memberItems(FAILED_GROUP)).toEqual(['contoso/LAPTOP-1']);

    clock += 60_000;
    await t.report('LAPTOP-1', 2, { [STATUS]: SCRIPT_OUTPUT.failed }, { companyId: 'CONTOSO' });
    await t.settle();

    expect(await t.memberItems(FAILED_GROUP)).toEqual(['CONTOSO/LAPTOP-1']);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([FAILED_GROUP]);
    expect(await t.transitions(FAILED_GROUP)).toHaveLength(1);
  });
});
