// The minute tick with the due-time index (GSI5): it re-evaluates only endpoints whose due instant has
// passed, and the memberships and transitions it leaves are those a full re-evaluation of the fleet
// gives, across day boundaries, late ticks, reports and company changes (real DynamoDB Local).
import { beforeEach, describe, expect, it } from 'vitest';
import { defineCatalogue, type FieldDefinition } from '#core/catalogue.ts';
import { evaluate, parseGroupDefinition } from '#core/criteria/index.ts';
import { scopeKey } from '#core/endpoint.ts';
import { factsFor } from '#core/membership.ts';
import { buildRuleset } from '#core/ruleset.ts';
import { FIELD, SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { type EvaluatorHarness, evaluatorHarness } from '#test/helpers/evaluator.ts';
import { seededRandom } from '#test/helpers/random.ts';

const DAY = 86_400_000;
const WARRANTY = 'Warranty End';
const CONTRACT = 'Contract End';
const CATALOGUE = defineCatalogue(
  [
    ...SHIPPED_CATALOGUE.fields,
    { name: WARRANTY, level: 'ENDPOINT', type: 'Date' } satisfies FieldDefinition,
    { name: CONTRACT, level: 'COMPANY', type: 'Date' } satisfies FieldDefinition,
  ],
  { status: { level: 'ENDPOINT', name: FIELD.backupStatus } },
);
const STATUS = FIELD.backupStatus;
const SUCCESS = '| All BitLocker keys are backed up successfully. |';

const TIME_GROUPS = [
  {
    id: 'not-reporting',
    name: 'Not reporting',
    criteria: { field: 'Last Report', operator: 'Older than days', values: ['2'] },
    alert: { on: ['enter'], severity: 'medium' },
  },
  {
    id: 'recent',
    name: 'Reported recently',
    criteria: { field: 'Last Report', operator: 'Within last days', values: ['0.5'] },
  },
  {
    id: 'warranty',
    name: 'Warranty expired',
    criteria: { field: WARRANTY, operator: 'Older than days', values: ['0'] },
  },
  {
    id: 'contract-silent',
    name: 'Contract just ended, not reporting',
    criteria: {
      all: [
        { field: CONTRACT, operator: 'Within last days', values: ['3'] },
        { field: 'Group', operator: 'Member of group', values: ['not-reporting'] },
      ],
    },
  },
].map((g) => parseGroupDefinition(g.id, g, CATALOGUE));

let clock = Date.parse('2026-11-26T10:00:00Z');

/** An ISO instant to the nanosecond, `ms` from now. */
const isoAt = (ms: number, ns = 0) =>
  `${new Date(clock + ms).toISOString().slice(0, 23)}${String(ns).padStart(6, '0')}Z`;

async function setup() {
  const t = await evaluatorHarness({ now: () => clock, catalogue: CATALOGUE });
  const report = (
    id: string,
    lastReportMs: number,
    fields: Record<string, unknown> = {},
    companyId = 'contoso',
  ) => t.report(id, lastReportMs / 1000, { [STATUS]: SUCCESS, ...fields }, { companyId });
  return { ...t, report };
}

/** Every endpoint's membership as a full re-evaluation from the stored data at `clock` gives it. */
async function reference(t: Pick<EvaluatorHarness, 'repo' | 'groups'>, ids: readonly string[]) {
  const rules = buildRuleset(
    CATALOGUE,
    (await t.groups.list()).map((g) => g.definition),
    0,
  );
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const e = await t.repo.getEndpoint(id, true);
    if (e === undefined) continue;
    const scopes = await t.repo.getScopes(
      [{ companyId: e.companyId }, { companyId: e.companyId, siteId: e.siteId }],
      true,
    );
    const facts = factsFor(
      CATALOGUE,
      e,
      scopes.get(scopeKey({ companyId: e.companyId, siteId: e.siteId })),
      scopes.get(scopeKey({ companyId: e.companyId })),
    );
    out.set(id, [...evaluate(rules.groups, facts, clock)].sort());
  }
  return out;
}

async function stored(t: Pick<EvaluatorHarness, 'groupsOf'>, ids: readonly string[]) {
  const out = new Map<string, string[]>();
  for (const id of ids) out.set(id, await t.groupsOf(id));
  return out;
}

async function earliestDue(t: Pick<EvaluatorHarness, 'repo'>, ids: readonly string[]) {
  let min: number | undefined;
  for (const id of ids) {
    const due = (await t.repo.getEndpoint(id, true))?.dueMs;
    if (due !== undefined && (min === undefined || due < min)) min = due;
  }
  return min;
}

describe('minute tick over the due index', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  it('leaves the memberships and transitions of a full re-evaluation, across boundaries and late ticks', async () => {
    const t = await setup();
    const random = seededRandom(7_202_612);
    const ids = Array.from({ length: 16 }, (_, i) => `EP-${String(i).padStart(2, '0')}`);
    const company = (i: number) => (i % 3 === 0 ? 'fabrikam' : 'contoso');
    const someDate = () =>
      random() < 0.2 ? null : isoAt(Math.floor((random() * 8 - 4) * DAY), Math.floor(random() * 1e6));
    await t.setCompany('fabrikam', { [CONTRACT]: isoAt(-1 * DAY) }, 0);
    // Half report before the groups exist (the group's fleet walk sets their due instants), half after.
    const firstReports = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const warranty = someDate();
        await t.report(
          ids[i] as string,
          -Math.floor(random() * 4 * DAY),
          warranty === null ? {} : { [WARRANTY]: warranty },
          company(i),
        );
      }
      await t.settle();
    };
    await firstReports(0, 8);
    for (const g of TIME_GROUPS) await t.groups.put(g, t.at(0));
    await t.settle();
    await firstReports(8, ids.length);

    // Membership per endpoint and group as the reference saw it at each checkpoint: the transitions
    // a correct evaluator records are exactly its changes (one report per endpoint between two).
    const expectedEvents: string[] = [];
    let previous = new Map<string, string[]>();
    const checkpoint = async (label: string) => {
      const want = await reference(t, ids);
      expect(await stored(t, ids), label).toEqual(want);
      for (const [id, groups] of want) {
        const before = previous.get(id) ?? [];
        for (const g of groups) if (!before.includes(g)) expectedEvents.push(`${id}|${g}|entered`);
        for (const g of before) if (!groups.includes(g)) expectedEvents.push(`${id}|${g}|exited`);
      }
      previous = want;
    };
    // Transitions before this point come from the set-up; compare from here on.
    const groupIds = (await t.groups.list()).map((g) => g.definition.id);
    const recordedSoFar = async () => {
      const all: string[] = [];
      for (const g of groupIds)
        for (const tr of await t.transitions(g)) all.push(`${tr.endpointId}|${tr.groupId}|${tr.event}`);
      return all.sort();
    };
    previous = await stored(t, ids);
    await checkpoint('after set-up');
    const before = await recordedSoFar();

    let boundaryChecks = 0;
    for (let step = 0; step < 10; step++) {
      if (step % 4 === 2) {
        // Reports between ticks: some move Last Report, some the warranty; one company's contract.
        for (const id of ids.filter(() => random() < 0.3)) {
          const warranty = someDate();
          await t.report(
            id,
            -Math.floor(random() * DAY),
            warranty === null ? {} : { [WARRANTY]: warranty },
            company(Number(id.slice(3))),
          );
        }
        await t.setCompany('fabrikam', { [CONTRACT]: isoAt(Math.floor((random() * 4 - 2) * DAY)) }, 0);
        await t.settle();
        await checkpoint(`step ${step}: after reports`);
      }
      const due = await earliestDue(t, ids);
      if (step % 3 === 1 && due !== undefined && due > clock) {
        // Just before the earliest due instant nothing can have flipped and nothing is due.
        clock = due - 1;
        expect(await t.evaluator.tick(), `step ${step}: nothing due`).toBe(false);
        await checkpoint(`step ${step}: a millisecond before the earliest due instant`);
        clock = due;
        boundaryChecks++;
      } else {
        // A late tick: hours to days since the last one.
        clock += Math.floor((0.1 + random() * 1.5) * DAY);
      }
      await t.evaluator.tick();
      await t.settle();
      await checkpoint(`step ${step}: after the tick`);
    }
    expect(boundaryChecks).toBeGreaterThan(0);
    const recorded = (await recordedSoFar()).filter((x) => {
      const i = before.indexOf(x);
      if (i < 0) return true;
      before.splice(i, 1);
      return false;
    });
    expect(recorded).toEqual(expectedEvents.sort());
    expect(expectedEvents.length).toBeGreaterThan(10);

    // A fleet walk (the group saved again) finds nothing to change.
    const transitionsBefore = (await recordedSoFar()).length;
    await t.groups.put(TIME_GROUPS[0] as (typeof TIME_GROUPS)[number], t.at(1));
    await t.settle();
    expect((await recordedSoFar()).length).toBe(transitionsBefore);
    await checkpoint('after a fleet walk');
  }, 240_000);

  it('reads only the due index when nothing is due, and nothing at all without time-based groups', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 0);
    await t.settle();
    // Shipped pack only: no time-based group, no request once the group list is cached.
    await t.evaluator.tick();
    t.requests.reset();
    expect(await t.evaluator.tick()).toBe(false);
    expect(t.requests.total()).toBe(0);

    await t.groups.put(TIME_GROUPS[0] as (typeof TIME_GROUPS)[number], t.at(0));
    await t.settle();
    clock += DAY; // not reporting for a day: due in another day
    await t.evaluator.tick(); // reloads the group list (cache expired)
    t.requests.reset();
    expect(await t.evaluator.tick()).toBe(false);
    expect(t.requests.snapshot()).toEqual({ Query: 16 });
    expect(new Set(t.requests.queried())).toEqual(new Set(['GSI5']));

    clock += DAY + 1;
    expect(await t.evaluator.tick()).toBe(true);
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toContain('not-reporting');
    // Evaluated, and out of the index: the next tick finds nothing due again.
    expect((await t.repo.getEndpoint('LAPTOP-1', true))?.dueMs).toBeUndefined();
    expect(await t.evaluator.tick()).toBe(false);
  }, 60_000);

  it('writes nothing for a report that only moves Last Report later, and re-checks the old due instant once', async () => {
    const t = await setup();
    await t.groups.put(TIME_GROUPS[0] as (typeof TIME_GROUPS)[number], t.at(0));
    await t.settle();
    await t.report('LAPTOP-1', 0);
    await t.settle();
    const first = (await t.repo.getEndpoint('LAPTOP-1', true))?.dueMs;
    expect(first).toBe(clock + 2 * DAY + 1);

    clock += DAY;
    await t.report('LAPTOP-1', 0);
    t.requests.reset();
    await t.settle();
    // Evaluated (a group reads Last Report: the group list and the field catalogue, reloaded after a
    // day, and the endpoint's company and site are read), membership unchanged, and the stored due
    // instant is earlier than the new one: no write at all.
    expect(t.requests.snapshot()).toEqual({ Query: 2, BatchGetItem: 1 });
    expect((await t.repo.getEndpoint('LAPTOP-1', true))?.dueMs).toBe(first);

    clock = (first as number) + 60_000;
    expect(await t.evaluator.tick()).toBe(true);
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).not.toContain('not-reporting');
    // The second report's due instant, a day after the first.
    expect((await t.repo.getEndpoint('LAPTOP-1', true))?.dueMs).toBe((first as number) + DAY);
    expect(await t.evaluator.tick()).toBe(false);
  }, 60_000);

  // Regression for the tick no longer walking the fleet: an instance whose group definitions predate
  // a group reading Last Report used to skip a report that moved only Last Report as routine, and
  // the fleet-wide tick repaired the membership within a minute. The fleet walk of the group change
  // stamps every endpoint (`lastReportRead`), and a stamped report is never routine.
  it('does not let an instance holding older definitions skip a report a new Last Report group reads', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', -3 * DAY);
    await t.settle();
    const stale = t.instance();
    await stale.evaluator.tick(); // holds the shipped pack, which reads no Last Report
    await t.groups.put(TIME_GROUPS[1] as (typeof TIME_GROUPS)[number], t.at(0)); // recent: within 0.5 days
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).not.toContain('recent');
    expect((await t.repo.getEndpoint('LAPTOP-1', true))?.lastReportRead).toBe(true);

    clock += 10_000;
    await t.report('LAPTOP-1', 0);
    expect((await stale.deliver(await t.stream.next())).batchItemFailures).toEqual([]);
    expect(await t.groupsOf('LAPTOP-1')).toContain('recent');
  }, 60_000);
});
