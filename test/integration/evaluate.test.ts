// The evaluate handler against DynamoDB Local with real stream batches: membership, transitions,
// redelivery, irrelevant changes, fan-out jobs, group changes and deletion.
import { beforeEach, describe, expect, it } from 'vitest';
import { EVALUATE_FILTERS } from '#adapters/stream-filters.ts';
import { defineCatalogue } from '#core/catalogue.ts';
import { parseGroupDefinition } from '#core/criteria/index.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { evaluatorHarness } from '#test/helpers/evaluator.ts';
import { batchOf } from '#test/helpers/stream.ts';

const FAILED = SCRIPT_OUTPUT.failed;
const SUCCESS = SCRIPT_OUTPUT.success;
const FAILED_GROUP = 'bitlocker-key-backup-failed';
const ENABLED_GROUP = 'bitlocker-key-backup-enabled';

let clock = Date.parse('2026-11-26T10:00:00Z');
const at = (offsetSeconds: number) => new Date(clock + offsetSeconds * 1000).toISOString();

// A long group cache: these tests decide when definitions are reloaded.
const setup = () => evaluatorHarness({ now: () => clock, config: { groupCacheMs: 60_000 } });

describe('evaluate handler', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  it('records one transition when a report moves an endpoint into an alerting group', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': FAILED });
    await t.settle();
    const endpoint = await t.repo.getEndpoint('LAPTOP-1', true);
    expect(Object.keys(endpoint?.groups ?? {})).toEqual([FAILED_GROUP]);
    const recorded = await t.transitions(FAILED_GROUP);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      event: 'entered',
      alert: true,
      severity: 'high',
      endpointId: 'LAPTOP-1',
    });
    expect(recorded[0]?.fields).toEqual({ 'ENDPOINT:BitLocker Key Backup Status': FAILED });
  });

  it('records nothing more when the same batch is delivered again', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': FAILED });
    const batch = await t.stream.next();
    await t.deliver(batch);
    await t.deliver(batch);
    await t.deliver(batch);
    await t.settle();
    expect(await t.transitions(FAILED_GROUP)).toHaveLength(1);
  });

  it('records a failure that was already replaced when the evaluator saw it: entry, then exit', async () => {
    const t = await setup();
    await t.settle();
    // Both reports are stored before the evaluator sees either (one batch).
    await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': FAILED });
    await t.report('LAPTOP-1', 2, { 'BitLocker Key Backup Status': SUCCESS });
    await t.settle();
    const recorded = (await t.transitions(FAILED_GROUP)).map((i) => `${i.occurredAt} ${i.event}`).sort();
    expect(recorded.map((r) => r.split(' ')[1])).toEqual(['entered', 'exited']);
    const endpoint = await t.repo.getEndpoint('LAPTOP-1', true);
    expect(endpoint?.groups[FAILED_GROUP]).toBeUndefined();
  });

  it('records every alternation of one batch in order, and nothing more when it is redelivered', async () => {
    const t = await setup();
    await t.settle();
    for (let i = 1; i <= 10; i++) {
      await t.report('LAPTOP-1', i, { 'BitLocker Key Backup Status': i % 2 === 1 ? FAILED : SUCCESS });
    }
    const batch = await t.stream.next();
    await t.deliver(batch);
    await t.deliver(batch);
    await t.settle();
    const events = (await t.transitions(FAILED_GROUP)).map((i) => i.event);
    expect(events.filter((e) => e === 'entered')).toHaveLength(5);
    expect(events.filter((e) => e === 'exited')).toHaveLength(5);
    expect((await t.repo.getEndpoint('LAPTOP-1', true))?.groups[FAILED_GROUP]).toBeUndefined();
  });

  it('costs no table request when a change touches no field any group reads', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': SUCCESS });
    await t.settle();
    t.requests.reset();
    // A newer report with the same values, and a hostname change: no group reads either.
    await t.report('LAPTOP-1', 2, { 'BitLocker Key Backup Status': SUCCESS });
    await t.report('LAPTOP-1', 3, {}, { hostname: 'RENAMED-1' });
    const batch = await t.stream.next();
    expect(batchOf(batch, EVALUATE_FILTERS).Records).toHaveLength(2);
    await t.deliver(batch);
    expect(t.requests.snapshot()).toEqual({});
  });

  it('skips its own membership writes through the stream filter', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': FAILED });
    await t.deliver(await t.stream.next());
    const followUps = batchOf(await t.stream.next(), EVALUATE_FILTERS).Records;
    expect(followUps.filter((r) => r.dynamodb?.NewImage?.type?.S === 'ENDPOINT')).toEqual([]);
  });

  it('re-evaluates every endpoint of a company after a company change, none missed or twice', async () => {
    const t = await setup();
    await t.settle();
    const ids = Array.from({ length: 230 }, (_, i) => `WS-${String(i).padStart(4, '0')}`);
    for (const [i, id] of ids.entries()) {
      await t.report(
        id,
        1,
        { 'BitLocker Key Backup Status': SUCCESS },
        { siteId: i % 2 === 0 ? 'hq' : 'branch' },
      );
    }
    await t.settle();
    await t.repo.upsertScope(
      { companyId: 'contoso' },
      'Contoso',
      { set: { 'Enable BitLocker Key Backup': 'Windows Workstation' }, clear: [] },
      at(5),
    );
    await t.settle();
    expect(await t.groups.memberCount(ENABLED_GROUP)).toBe(230);
    const entered = (await t.transitions(ENABLED_GROUP)).map((i) => i.endpointId);
    expect(new Set(entered).size).toBe(230);
    expect(entered).toHaveLength(230);

    // A site disabling the backup takes out exactly its own endpoints.
    await t.repo.upsertScope(
      { companyId: 'contoso', siteId: 'branch' },
      undefined,
      { set: { 'Disable BitLocker Key Backup': true }, clear: [] },
      at(6),
    );
    await t.settle();
    expect(await t.groups.memberCount(ENABLED_GROUP)).toBe(115);
  });

  it('evaluates the fleet when a group is created and drops memberships silently when it is deleted', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': FAILED });
    await t.report('SERVER-1', 1, { 'BitLocker Key Backup Status': SUCCESS }, { endpointType: 'Server' });
    await t.settle();
    const servers = parseGroupDefinition(
      'servers',
      {
        name: 'Servers',
        blocks: [[{ field: 'Endpoint Type', operator: 'Equal', values: ['server'] }]],
        alert: { on: ['enter'], severity: 'low' },
      },
      SHIPPED_CATALOGUE,
    );
    await t.groups.put(servers, at(2));
    await t.settle();
    expect((await t.repo.getEndpoint('SERVER-1', true))?.groups.servers).toBeDefined();
    expect(await t.transitions('servers')).toHaveLength(1);

    await t.groups.delete('servers');
    await t.settle();
    expect((await t.repo.getEndpoint('SERVER-1', true))?.groups.servers).toBeUndefined();
    expect(await t.groups.memberCount('servers')).toBe(0);
    expect(await t.transitions('servers')).toHaveLength(1);
  });

  it('re-evaluates the fleet when a group is saved again unchanged (recovery after a lost batch)', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': FAILED });
    // The batch is lost (as if parked in the on-failure queue): the evaluator never sees it.
    await t.stream.next();
    expect((await t.repo.getEndpoint('LAPTOP-1', true))?.groups[FAILED_GROUP]).toBeUndefined();

    const [stored] = (await t.groups.list()).filter((g) => g.definition.id === FAILED_GROUP);
    await t.groups.put(stored!.definition, t.at(5));
    await t.settle();

    expect((await t.repo.getEndpoint('LAPTOP-1', true))?.groups[FAILED_GROUP]).toBeDefined();
    expect(await t.transitions(FAILED_GROUP)).toHaveLength(1);
  });

  it('fails at load, once per cache period, while a stored group reads a field the catalogue lacks', async () => {
    const t = await setup();
    await t.settle();
    const wider = defineCatalogue([
      ...SHIPPED_CATALOGUE.fields,
      { name: 'Battery Health', level: 'ENDPOINT', type: 'Number' },
    ]);
    const battery = parseGroupDefinition(
      'battery',
      { name: 'Battery', criteria: { field: 'Battery Health', operator: 'Less than', values: ['50'] } },
      wider,
    );
    // Written past the API (which validates against the catalogue), as a catalogue change would leave it.
    await t.groups.put(battery, at(1));
    t.evaluator.invalidateGroups();
    await t.report('LAPTOP-1', 2, { 'BitLocker Key Backup Status': FAILED });
    const reports = (await t.stream.next()).filter((r) => r.dynamodb?.NewImage?.type?.S === 'ENDPOINT');
    expect(reports).toHaveLength(1);

    await expect(t.deliver(reports)).rejects.toThrow(
      /revision 0 cannot be loaded: groups\.battery\.criteria\.field: reads field "Battery Health"/,
    );
    t.requests.reset();
    await expect(t.deliver(reports)).rejects.toThrow(/Battery Health/);
    expect(t.requests.total()).toBe(0);

    await t.groups.delete('battery');
    clock += 61_000;
    expect((await t.deliver(reports)).batchItemFailures).toEqual([]);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([FAILED_GROUP]);
  });

  it('re-evaluates time-based groups on the minute tick', async () => {
    const t = await setup();
    await t.groups.put(
      parseGroupDefinition(
        'silent',
        {
          name: 'Not reporting',
          criteria: { field: 'Last Report', operator: 'Older than days', values: ['1'] },
        },
        SHIPPED_CATALOGUE,
      ),
      at(0),
    );
    await t.settle();
    await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': SUCCESS });
    await t.settle();
    expect((await t.repo.getEndpoint('LAPTOP-1', true))?.groups.silent).toBeUndefined();
    clock += 2 * 86_400_000;
    t.evaluator.invalidateGroups();
    expect(await t.evaluator.tick()).toBe(true);
    await t.settle();
    expect((await t.repo.getEndpoint('LAPTOP-1', true))?.groups.silent).toBeDefined();
  });
});
