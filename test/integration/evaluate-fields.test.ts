// The evaluator with the field catalogue as data, against DynamoDB Local with real stream batches: a
// field change that groups read re-evaluates the fleet like a group change; one no group reads costs
// nothing; groups on the multi-valued built-ins follow the list semantics.
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import type { FieldDefinition } from '#core/catalogue.ts';
import { parseGroupDefinition } from '#core/criteria/index.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { type EvaluatorHarness, evaluatorHarness } from '#test/helpers/evaluator.ts';

const ENABLED_GROUP = 'bitlocker-key-backup-enabled';
let clock = Date.parse('2026-11-26T10:00:00Z');
const setup = () => evaluatorHarness({ now: () => clock, config: { groupCacheMs: 60_000, fleetDelayMs: 0 } });

async function changeField(t: EvaluatorHarness, field: FieldDefinition) {
  const { rev } = await t.groups.snapshot();
  await t.groups.changeGuarded({ field }, rev, t.at(3));
}

async function jobs(t: EvaluatorHarness): Promise<string[]> {
  const out = await t.doc.send(new ScanCommand({ TableName: t.tableName, ConsistentRead: true }));
  return (out.Items ?? []).filter((i) => String(i.PK).startsWith('JOB#')).map((i) => String(i.reason));
}

describe('field changes', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  it('re-evaluate the fleet when a field a group reads changes (a default flips membership)', async () => {
    const t = await setup();
    await t.setCompany('contoso', { 'Enable BitLocker Key Backup': 'Windows Workstation' }, 0);
    await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': SCRIPT_OUTPUT.success });
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toContain(ENABLED_GROUP);

    // The endpoint-level Disable flag now defaults to true: every endpoint without it set leaves.
    await changeField(t, {
      name: 'Disable BitLocker Key Backup',
      level: 'ENDPOINT',
      type: 'Flag',
      default: true,
    });
    await t.settle();

    expect(await t.groupsOf('LAPTOP-1')).not.toContain(ENABLED_GROUP);
    const events = (await t.transitions(ENABLED_GROUP)).map((i) => i.event);
    expect(events.sort()).toEqual(['entered', 'exited']);
    expect(await jobs(t)).toContain('field ENDPOINT:Disable BitLocker Key Backup changed');
  }, 120_000);

  it('cost nothing when no group reads the field: no job, no request beyond the reload', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': SCRIPT_OUTPUT.success });
    await t.settle();
    const before = await jobs(t);

    await changeField(t, { name: 'Asset Tag', level: 'ENDPOINT', type: 'Text', maxLength: 64 });
    t.requests.reset();
    await t.settle();

    expect(await jobs(t)).toEqual(before);
    // The ruleset reload: the group set and the field catalogue, one Query each.
    expect(t.requests.snapshot()).toEqual({ Query: 2 });
  }, 60_000);
});

describe('groups on multi-valued built-ins', () => {
  it('match when one element of the list matches, and follow the list as it changes', async () => {
    const t = await setup();
    const chrome = parseGroupDefinition(
      'chrome',
      {
        name: 'Has Chrome',
        blocks: [[{ field: 'Installed Software', operator: 'Contains any of', values: ['chrome'] }]],
      },
      SHIPPED_CATALOGUE,
    );
    const noAgent = parseGroupDefinition(
      'no-agent',
      {
        name: 'No agent',
        blocks: [
          [{ field: 'Installed Software', operator: 'Does Not Contain any of', values: ['Huntress'] }],
        ],
      },
      SHIPPED_CATALOGUE,
    );
    await t.groups.put(chrome, t.at(0));
    await t.groups.put(noAgent, t.at(0));
    await t.settle();

    await t.report('LAPTOP-1', 1, {}, { properties: { installedSoftware: ['Google Chrome', '7-Zip'] } });
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual(['chrome', 'no-agent']);

    await t.report('LAPTOP-1', 2, {}, { properties: { installedSoftware: ['7-Zip', 'Huntress Agent'] } });
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual([]);

    // The same list again (a routine re-report) is no change any group sees: no request at all.
    t.requests.reset();
    await t.report('LAPTOP-1', 3, {}, { properties: { installedSoftware: ['7-Zip', 'Huntress Agent'] } });
    await t.settle();
    expect(t.requests.total()).toBe(0);
  }, 60_000);
});
