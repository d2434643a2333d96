// Review of the evaluator's correctness under redelivery, races between records and fan-out jobs,
// company moves, group deletion and large membership changes, against DynamoDB Local with real stream
// batches. Interleavings that production allows (records of different partitions land on different
// stream shards and are handled concurrently, by instances with their own group caches) are forced
// by delivering records in a chosen order or by calling the evaluator directly.
//
// Tests whose comment starts "Regression:" each proved a bug found in review (they failed before the
// fix named in their comment); they now guard against its return.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import type { GroupStore } from '#adapters/group-store.ts';
import { keys } from '#adapters/keys.ts';
import { EVALUATE_FILTERS } from '#adapters/stream-filters.ts';
import { parseGroupDefinition } from '#core/criteria/index.ts';
import { instantKey } from '#core/instant.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import type { EvaluatorConfig } from '#functions/evaluate/evaluate.ts';
import { toChangeRecords } from '#functions/evaluate/records.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { evaluatorHarness } from '#test/helpers/evaluator.ts';
import { batchOf } from '#test/helpers/stream.ts';

const FAILED = SCRIPT_OUTPUT.failed;
const SUCCESS = SCRIPT_OUTPUT.success;
const FAILED_GROUP = 'bitlocker-key-backup-failed';
const ENABLED_GROUP = 'bitlocker-key-backup-enabled';
const STATUS = 'BitLocker Key Backup Status';
const ENABLE = 'Enable BitLocker Key Backup';
/** A status no shipped group matches. */
const DISABLED = SCRIPT_OUTPUT.disabled;

let clock = Date.parse('2026-11-26T10:00:00Z');
const at = (offsetSeconds: number) => new Date(clock + offsetSeconds * 1000).toISOString();

const setup = (opts: { config?: Partial<EvaluatorConfig>; tally?: boolean } = {}) =>
  evaluatorHarness({ now: () => clock, ...opts });

const isType = (type: string) => (r: DynamoDBRecord) =>
  (r.dynamodb?.NewImage ?? r.dynamodb?.OldImage)?.type?.S === type;

describe('evaluator review: company moves', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  it('moves member items when an endpoint changes company', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED });
    await t.settle();
    expect(await t.memberItems(FAILED_GROUP)).toEqual(['contoso/LAPTOP-1']);
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED }, { companyId: 'fabrikam' });
    await t.settle();
    expect(await t.memberItems(FAILED_GROUP)).toEqual(['fabrikam/LAPTOP-1']);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([FAILED_GROUP]);
    // A move is no transition.
    expect(await t.transitions(FAILED_GROUP)).toHaveLength(1);
  });

  // Regression: moving member items to the endpoint's new company from the *stream image's* `groups`,
  // unguarded, before the guarded transaction. A redelivered move record (a later record of the batch
  // failed, a bisected batch, a timeout) still lists a group the endpoint has since left: its member
  // item came back under the new company and stayed for good (member lists and counts included an
  // endpoint that is not a member). Now the move (`rehome`) is one transaction guarded like any
  // membership write, from the stored `groupsCompanyId`.
  it('does not resurrect a member item when a company-move record is redelivered', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED });
    await t.settle();
    // Moves to another company and changes status in the same report: exits the failed group.
    await t.report('LAPTOP-1', 2, { [STATUS]: DISABLED }, { companyId: 'fabrikam' });
    const batch = await t.stream.next();
    await t.deliver(batch);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([]);
    expect(await t.memberItems(FAILED_GROUP)).toEqual([]);
    await t.deliver(batch); // redelivery
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual([]);
    expect(await t.memberItems(FAILED_GROUP)).toEqual([]);
  });

  // Regression: a fan-out job reaching a moved endpoint before the move's own record evaluated it as
  // if unmoved and deleted / put member items under the *new* company while they still lived under
  // the old one; the later move record then moved them from its stale image. Either way a member item
  // of a group the endpoint is not in survived. Now the stored `groupsCompanyId` decides where member
  // items are, and moving them is guarded like every membership write.
  it('keeps member items right when a fan-out job evaluates a moved endpoint before its move record', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED });
    await t.settle();
    await t.report('LAPTOP-1', 2, { [STATUS]: DISABLED }, { companyId: 'fabrikam' });
    await t.setCompany('fabrikam', { [ENABLE]: 'Windows Workstation' }, 3);
    const records = await t.stream.next();
    const endpointRecords = records.filter(isType('ENDPOINT'));
    const companyRecords = records.filter(isType('COMPANY'));
    expect(endpointRecords).toHaveLength(1);
    expect(companyRecords).toHaveLength(1);
    // The company record lives on another partition, so another shard: its job may run first.
    await t.deliver(companyRecords);
    await t.settle();
    await t.deliver(endpointRecords);
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual([ENABLED_GROUP]);
    expect(await t.memberItems(FAILED_GROUP)).toEqual([]);
    expect(await t.memberItems(ENABLED_GROUP)).toEqual(['fabrikam/LAPTOP-1']);
  });
});

describe('evaluator review: records racing with fan-out jobs', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  // Regression: company and site records are read once per batch in `prepare`, and an evaluation's
  // write was guarded only by the endpoint's revisions, not by the company or site it read. A company
  // change landing between `prepare` and `handle` starts a job that finds nothing to change on this
  // endpoint and writes nothing; the record then applied membership computed from the superseded
  // company: a wrong "entered" transition that no later event corrects. (After a StaleEndpointError
  // the re-read kept the stale scopes too.)
  // Fixed: company and site are always read after the endpoint, and a fan-out job bumps the `grev`
  // of every endpoint it walks even when nothing changes, so the record's write (guarded by `grev`)
  // fails and it re-reads everything. (ConditionChecks on the company item would have made every
  // concurrent evaluation in one company conflict.)
  it('never applies membership computed from a company record superseded before the write', async () => {
    const t = await setup();
    await t.setCompany('contoso', { [ENABLE]: 'Windows Workstation' }, 0);
    await t.settle();
    // A server: not in the enabled group while the company enables workstations only.
    await t.report('SRV-1', 1, { [STATUS]: DISABLED }, { endpointType: 'Server' });
    await t.settle();
    expect(await t.groupsOf('SRV-1')).toEqual([]);
    // It turns out to be a laptop: relevant, would enter the enabled group.
    await t.report('SRV-1', 2, {}, { endpointType: 'Laptop' });
    const records = toChangeRecords(batchOf(await t.stream.next(), EVALUATE_FILTERS).Records);
    expect(records).toHaveLength(1);
    const batch = await t.evaluator.prepare(records);
    // Meanwhile the company disables the backup; its job runs (another shard) and finds the laptop
    // not enabled, which is what the stored membership already says: it writes nothing.
    await t.setCompany('contoso', { [ENABLE]: 'Disabled' }, 3);
    await t.settle(t.instance());
    expect(await t.groupsOf('SRV-1')).toEqual([]);
    // The report's record finishes its evaluation.
    await t.evaluator.handle(records[0] as (typeof records)[0], batch);
    await t.settle();
    expect(await t.groupsOf('SRV-1')).toEqual([]);
    expect(await t.transitions(ENABLED_GROUP)).toHaveLength(0);
  });

  it('re-reads the company, not only the endpoint, after losing a race to a fan-out job', async () => {
    const t = await setup();
    await t.setCompany('contoso', { [ENABLE]: 'Windows Workstation' }, 0);
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual([ENABLED_GROUP, 'bitlocker-key-backup-successful']);
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    const records = toChangeRecords(batchOf(await t.stream.next(), EVALUATE_FILTERS).Records);
    const batch = await t.evaluator.prepare(records);
    // The company disables the backup; its job evaluates the laptop first and takes it out of the
    // enabled group (and into the failed one): grev moves on.
    await t.setCompany('contoso', { [ENABLE]: 'Disabled' }, 3);
    await t.settle(t.instance());
    expect(await t.groupsOf('LAPTOP-1')).toEqual([FAILED_GROUP]);
    // The record loses the race, re-reads the endpoint... and re-evaluates with the old company.
    await t.evaluator.handle(records[0] as (typeof records)[0], batch);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([FAILED_GROUP]);
  });

  // Regression: after a StaleEndpointError the evaluator re-read the endpoint but evaluated it against
  // the batch's company and site map, loaded in `prepare` for the companies the batch's records named.
  // An endpoint moved to another company by a later report was then evaluated as if its company had
  // no fields, the result was written, and the move's own record put it back: two spurious alerted
  // transitions, an exit and a re-entry. Now a re-read endpoint's company and site are read with it.
  it('does not flap an endpoint out and back in when it moved company during its evaluation', async () => {
    const t = await setup();
    await t.groups.put(
      parseGroupDefinition(
        'backup-on',
        {
          name: 'Backup on',
          blocks: [[{ field: ENABLE, operator: 'Contains any of', values: ['Workstation'] }]],
          alert: { on: ['enter', 'exit'], severity: 'medium' },
        },
        SHIPPED_CATALOGUE,
      ),
      at(0),
    );
    await t.setCompany('contoso', { [ENABLE]: 'Windows Workstation' }, 0);
    await t.setCompany('fabrikam', { [ENABLE]: 'Windows Workstation' }, 0);
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toContain('backup-on');
    expect(await t.transitions('backup-on')).toHaveLength(1);
    // Batch 1: the laptop's backup fails.
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    const records = toChangeRecords(batchOf(await t.stream.next(), EVALUATE_FILTERS).Records);
    const batch = await t.evaluator.prepare(records);
    // While batch 1 is being handled, the laptop is moved to fabrikam (also enabled).
    await t.report('LAPTOP-1', 3, { [STATUS]: FAILED }, { companyId: 'fabrikam' });
    await t.evaluator.handle(records[0] as (typeof records)[0], batch);
    await t.settle(); // batch 2: the move
    expect(await t.groupsOf('LAPTOP-1')).toContain('backup-on');
    // Both companies enable the backup: the laptop never left the group.
    expect((await t.transitions('backup-on')).map((i) => i.event)).toEqual(['entered']);
  });

  // Regression: the group list was read from an index, which may lag the GROUP record that invalidated
  // the cache. The next reload (the next record of the same batch) could cache the *old* definitions
  // for the cache lifetime, and the fleet job, which waits the fleet delay (= cache lifetime) from the
  // GROUP record, then walked the fleet with the stale set: the saved group was never applied (until
  // each endpoint's next relevant report). Fixed: definitions are read with a consistent Query of
  // their partition, and a job forces a reload when it starts.
  it('applies a saved group to the fleet even if the first reload after it saw a lagging index', async () => {
    let lagging = false;
    let stale: Awaited<ReturnType<GroupStore['snapshot']>> | undefined;
    const t = await setup();
    const a = t.instance({
      sleep: async (ms) => {
        clock += ms;
      },
      groups: (store) => ({
        ...store,
        async snapshot() {
          clock += 20; // the reload happens a little after the GROUP record was handled
          if (lagging && stale !== undefined) {
            lagging = false;
            return stale;
          }
          return store.snapshot();
        },
      }),
    });
    await t.settle(a);
    await t.report('SERVER-1', 1, { [STATUS]: SUCCESS }, { endpointType: 'Server' });
    await t.settle(a);
    stale = await t.groups.snapshot();
    await t.groups.put(
      parseGroupDefinition(
        'servers',
        {
          name: 'Servers',
          blocks: [[{ field: 'Endpoint Type', operator: 'Equal', values: ['Server'] }]],
        },
        SHIPPED_CATALOGUE,
      ),
      at(2),
    );
    // The GROUP record and, right behind it in the batch, some relevant report.
    await t.report('LAPTOP-9', 2, { [STATUS]: FAILED });
    lagging = true; // the first reload still returns the set without the new group
    await t.settle(a);
    expect(await t.groupsOf('SERVER-1')).toContain('servers');
  });

  it('records each transition once when a job page record is redelivered', async () => {
    const t = await setup();
    await t.settle();
    for (let i = 0; i < 120; i++) await t.report(`WS-${i}`, 1, { [STATUS]: SUCCESS });
    await t.settle();
    await t.setCompany('contoso', { [ENABLE]: 'Windows Workstation' }, 2);
    // Company record → job INSERT; deliver every job record twice (and the first one a third time
    // after the walk is over).
    let first: DynamoDBRecord[] | undefined;
    for (let round = 0; round < 50; round++) {
      const records = await t.stream.next();
      if (records.length === 0) break;
      if (first === undefined && records.some(isType('JOB'))) first = records;
      expect((await t.deliver(records)).batchItemFailures).toEqual([]);
      expect((await t.deliver(records)).batchItemFailures).toEqual([]);
    }
    if (first) await t.deliver(first);
    await t.settle();
    const entered = (await t.transitions(ENABLED_GROUP)).map((i) => i.endpointId);
    expect(entered).toHaveLength(120);
    expect(new Set(entered).size).toBe(120);
    expect(await t.groups.memberCount(ENABLED_GROUP)).toBe(120);
  });
});

describe('evaluator review: group deletion', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  const servers = () =>
    parseGroupDefinition(
      'servers',
      {
        name: 'Servers',
        blocks: [[{ field: 'Endpoint Type', operator: 'Equal', values: ['Server'] }]],
        alert: { on: ['enter'], severity: 'low' },
      },
      SHIPPED_CATALOGUE,
    );

  // Regression: the purge job of a deleted group started at once, unlike the fleet job of a saved
  // group, and nothing checked that a group being entered still exists. An instance that has not seen
  // the GROUP REMOVE record (other shard) keeps the deleted group in its cache for up to the cache
  // lifetime and, after the purge had passed, entered an endpoint into it: a transition and an alert
  // for a group that no longer exists, and a membership the purge never visits again.
  // Fixed: entries are written only after a consistent read shows their groups still defined (a check
  // inside the transaction would make concurrent entries into one group conflict), and the purge
  // starts the fleet delay after the deletion.
  it('never enters an endpoint into a group deleted and purged meanwhile', async () => {
    const t = await setup();
    await t.groups.put(servers(), at(0));
    await t.settle();
    // Instance B warms its cache with the group.
    const b = t.instance();
    await b.evaluator.tick();
    await t.groups.delete('servers');
    await t.settle(); // instance A: REMOVE record, purge job, done
    clock += 1_000; // well within B's cache lifetime
    await t.report('SERVER-1', 1, { [STATUS]: SUCCESS }, { endpointType: 'Server' });
    // B handles the report's shard.
    expect((await b.deliver(await t.stream.next())).batchItemFailures).toEqual([]);
    await t.settle();
    expect(await t.groupsOf('SERVER-1')).not.toContain('servers');
    expect(await t.memberItems('servers')).toEqual([]);
    expect(await t.transitions('servers')).toHaveLength(0);
  });

  // Regression: deleting a group and creating one with the same id starts a purge job and a fleet job
  // on two different JOB partitions (so, in production, two shards with no order between them). The
  // purge removed *every* member item of the id, including memberships the new group's fleet walk had
  // just recorded: the endpoint silently lost a membership it should have, with no transition and
  // nothing to restore it until its next relevant report. Fixed: the purge stops when a group with
  // its id exists again.
  it('keeps the memberships of a group re-created under the id of a deleted one', async () => {
    const t = await setup();
    await t.groups.put(servers(), at(0));
    await t.settle();
    await t.report('SERVER-1', 1, { [STATUS]: SUCCESS }, { endpointType: 'Server' });
    await t.settle();
    expect(await t.groupsOf('SERVER-1')).toContain('servers');
    await t.groups.delete('servers');
    clock += 1_000;
    await t.groups.put(servers(), at(0));
    // GROUP REMOVE + GROUP INSERT → purge job and fleet job.
    expect((await t.deliver(await t.stream.next())).batchItemFailures).toEqual([]);
    const jobs = (await t.stream.next()).filter(isType('JOB'));
    const fleet = jobs.filter((r) => r.dynamodb?.NewImage?.jobId?.S?.startsWith('fleet-'));
    const purge = jobs.filter((r) => r.dynamodb?.NewImage?.jobId?.S?.startsWith('purge-'));
    expect(fleet).toHaveLength(1);
    expect(purge).toHaveLength(1);
    // Different partitions: the fleet walk may well run first.
    await t.deliver(fleet);
    await t.settle();
    await t.deliver(purge);
    await t.settle();
    expect(await t.groupsOf('SERVER-1')).toContain('servers');
    expect(await t.memberItems('servers')).toEqual(['contoso/SERVER-1']);
  });
});

describe('evaluator review: bounded retries', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  // Regression: only lost races counted towards the bound on one endpoint's evaluation; a group that
  // kept "vanishing" (listed by the definitions, absent from the existence check) reloaded and
  // re-planned for ever, and so did a fan-out page, by recursion. Every pass counts now.
  it('fails the record, instead of retrying for ever, while every write loses its race', async () => {
    const t = await setup();
    await t.settle();
    let applies = 0;
    const a = t.instance({
      writer: (real) => ({
        ...real,
        async apply(w) {
          applies++;
          // Another writer moves the endpoint's membership revision on just before each write.
          await t.doc.send(
            new UpdateCommand({
              TableName: t.tableName,
              Key: keys.endpoint(w.endpoint.endpointId),
              UpdateExpression: 'SET grev = grev + :one, writer = :evaluate',
              ExpressionAttributeValues: { ':one': 1, ':evaluate': 'evaluate' },
            }),
          );
          return real.apply(w);
        },
      }),
    });
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED });
    const records = (await t.stream.next()).filter(isType('ENDPOINT'));
    expect((await a.deliver(records)).batchItemFailures).toHaveLength(1);
    expect(applies).toBe(10);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([]);
    expect(await t.transitions(FAILED_GROUP)).toHaveLength(0);
    // The stream's retry, once nothing interferes, records the entry.
    expect((await t.deliver(records)).batchItemFailures).toEqual([]);
    expect(await t.groupsOf('LAPTOP-1')).toContain(FAILED_GROUP);
  });

  it('fails the record, instead of reloading for ever, while an entered group seems to vanish', async () => {
    const t = await setup();
    await t.settle();
    let reloads = 0;
    const a = t.instance({
      groups: (store) => ({
        ...store,
        async snapshot() {
          reloads++;
          return store.snapshot();
        },
        // The definitions list the group, the existence check never finds it.
        existingGroups: async () => new Set<string>(),
      }),
    });
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED });
    const records = (await t.stream.next()).filter(isType('ENDPOINT'));
    expect((await a.deliver(records)).batchItemFailures).toHaveLength(1);
    expect(reloads).toBeLessThanOrEqual(11);
    expect(await t.transitions(FAILED_GROUP)).toHaveLength(0);
  });

  it('fails a fan-out page, instead of re-planning it for ever, while an entered group seems to vanish', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    const a = t.instance({
      groups: (store) => ({ ...store, existingGroups: async () => new Set<string>() }),
    });
    await t.setCompany('contoso', { [ENABLE]: 'Windows Workstation' }, 2);
    expect((await a.deliver(await t.stream.next())).batchItemFailures).toEqual([]); // starts the job
    const job = await t.stream.next();
    expect(job.filter(isType('JOB'))).toHaveLength(1);
    expect((await a.deliver(job)).batchItemFailures).toHaveLength(1);
    expect(await t.groupsOf('LAPTOP-1')).not.toContain(ENABLED_GROUP);
  });
});

describe('evaluator review: many changes at once', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  const bulkGroup = (id: string, value: string) =>
    parseGroupDefinition(
      id,
      {
        name: id,
        blocks: [[{ field: STATUS, operator: 'Contains any of', values: [value] }]],
        alert: { on: ['enter', 'exit'], severity: 'low' },
      },
      SHIPPED_CATALOGUE,
    );

  it('splits more than 49 changes into consecutive transactions, each transition once', async () => {
    const t = await setup();
    for (let i = 0; i < 60; i++) await t.groups.put(bulkGroup(`bulk-${i}`, 'BULK'), at(0));
    await t.settle();
    t.evaluator.invalidateGroups();
    await t.report('LAPTOP-1', 1, { [STATUS]: 'BULK' });
    const batch = await t.stream.next();
    await t.deliver(batch);
    await t.deliver(batch);
    await t.settle();
    const groups = await t.groupsOf('LAPTOP-1');
    expect(groups.filter((g) => g.startsWith('bulk-'))).toHaveLength(60);
    let total = 0;
    const ids = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const tr = await t.transitions(`bulk-${i}`);
      total += tr.length;
      for (const x of tr) ids.add(String(x.transitionId));
      expect(await t.memberItems(`bulk-${i}`)).toEqual(['contoso/LAPTOP-1']);
    }
    expect(total).toBe(60);
    expect(ids.size).toBe(60);
    // And all 60 leave again.
    await t.report('LAPTOP-1', 2, { [STATUS]: SUCCESS });
    await t.settle();
    expect((await t.groupsOf('LAPTOP-1')).filter((g) => g.startsWith('bulk-'))).toEqual([]);
  });

  // Regression: the first transaction of an endpoint's write holds its update, a Delete per dropped
  // (deleted) group and 2 actions per change; with 49 changes and 2 or more dropped groups it had 101+
  // actions, over DynamoDB's limit of 100. The ValidationException is no StaleEndpointError, so the
  // record failed on every retry and blocked its stream shard. Fixed: dropped deletes count towards
  // the transaction's budget.
  it('stays within 100 transaction actions when groups were deleted as well', async () => {
    const t = await setup();
    for (const id of ['old-1', 'old-2']) await t.groups.put(bulkGroup(id, 'OLD'), at(0));
    for (let i = 0; i < 49; i++) await t.groups.put(bulkGroup(`bulk-${i}`, 'BULK'), at(0));
    await t.settle();
    t.evaluator.invalidateGroups();
    await t.report('LAPTOP-1', 1, { [STATUS]: 'OLD' });
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual(['old-1', 'old-2']);
    // Both old groups are deleted; their purge has not reached this endpoint yet (its jobs run on
    // other shards): their REMOVE records are consumed here without being delivered.
    await t.groups.delete('old-1');
    await t.groups.delete('old-2');
    await t.stream.next();
    t.evaluator.invalidateGroups();
    await t.report('LAPTOP-1', 2, { [STATUS]: 'BULK' });
    const res = await t.deliver(await t.stream.next());
    expect(res.batchItemFailures).toEqual([]);
    expect((await t.groupsOf('LAPTOP-1')).filter((g) => g.startsWith('bulk-'))).toHaveLength(49);
  });
});

describe('evaluator review: unusual but legal data', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  it('evaluates an endpoint without hostname, OS or type whose company and site were never PUT', async () => {
    const t = await setup();
    await t.settle();
    await t.repo.writeReport(
      {
        endpointId: 'BARE-1',
        companyId: 'nobody',
        siteId: 'nowhere',
        observedAt: at(1),
        observedAtMs: clock + 1000,
        observedKey: instantKey(at(1)) ?? '',
        fields: { set: { [STATUS]: FAILED }, clear: [] },
      },
      at(1),
    );
    await t.settle();
    expect(await t.groupsOf('BARE-1')).toEqual([FAILED_GROUP]);
    const [tr] = await t.transitions(FAILED_GROUP);
    expect(tr).toMatchObject({ hostname: null, companyName: null, siteName: null, alert: true });
    expect(await t.memberItems(FAILED_GROUP)).toEqual(['nobody/BARE-1']);
  });

  it('exits when a field is cleared, and treats clearing a flag to its default as no change', async () => {
    const t = await setup();
    await t.setCompany('contoso', { [ENABLE]: 'Windows Workstation' }, 0);
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED, 'Disable BitLocker Key Backup': false });
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual([ENABLED_GROUP, FAILED_GROUP]);
    await t.report('LAPTOP-1', 2, {}, {}, [STATUS, 'Disable BitLocker Key Backup']);
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual([ENABLED_GROUP]);
    const events = (await t.transitions(FAILED_GROUP)).map((i) => i.event).sort();
    expect(events).toEqual(['entered', 'exited']);
    // The company clears its field: the job takes every endpoint out of the enabled group.
    await t.setCompany('contoso', { [ENABLE]: null }, 3);
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual([]);
  });

  it("re-evaluates an endpoint that moves to another site of its company with that site's fields", async () => {
    const t = await setup();
    await t.setCompany('contoso', { [ENABLE]: 'Windows Workstation' }, 0);
    await t.repo.upsertScope(
      { companyId: 'contoso', siteId: 'lab' },
      undefined,
      { set: { 'Disable BitLocker Key Backup': true }, clear: [] },
      at(0),
    );
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toContain(ENABLED_GROUP);
    await t.report('LAPTOP-1', 2, { [STATUS]: SUCCESS }, { siteId: 'lab' });
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).not.toContain(ENABLED_GROUP);
    expect(await t.memberItems('bitlocker-key-backup-successful')).toEqual(['contoso/LAPTOP-1']);
  });

  it('does not invoke itself: only the counted transitions follow an evaluation, and they end', async () => {
    const t = await setup({ tally: true });
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 2, {}, { companyId: 'fabrikam' });
    await t.deliver(await t.stream.next());
    // The status page's counters read the Failed transition back from the stream (decisions §22);
    // what they write (markers, counters) passes no evaluate filter, so the chain ends there.
    const followUps = await t.stream.next();
    const kinds = batchOf(followUps, EVALUATE_FILTERS).Records.map((r) => [
      r.dynamodb?.NewImage?.type?.S,
      r.dynamodb?.NewImage?.groupId?.S,
    ]);
    expect(kinds).toEqual([['TRANSITION', 'bitlocker-key-backup-failed']]);
    const res = await t.deliver(followUps);
    expect(res?.batchItemFailures ?? []).toEqual([]);
    expect(batchOf(await t.stream.next(), EVALUATE_FILTERS).Records).toEqual([]);
  });
});
