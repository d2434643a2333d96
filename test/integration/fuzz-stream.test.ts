// Property-based fuzzing of stream delivery with fast-check, on DynamoDB Local through the evaluator
// harness: random status reports for a few endpoints (stale ones included) and company and site
// changes (fan-out jobs), their stream records delivered in random batches, interleaved across
// endpoints and scopes (each item's own records stay in shard order), and already delivered batches
// delivered again at random later moments. Whatever the order: nothing throws or fails a record; at
// the end every endpoint's stored membership and member items are what the reference evaluator says
// for its stored fields; per endpoint and group the transitions alternate, start with an entry, end
// where the membership is, are never recorded twice, and each agrees with the reference for the
// fields it recorded. Some runs of an endpoint's records are parked (as Lambda parks a batch that keeps
// failing) and replayed at the end, after the stream moved past them.
import type { DynamoDBRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fieldKey } from '#core/catalogue.ts';
import { parseGroupDefinition } from '#core/criteria/index.ts';
import { type EndpointRecord, type ScopeRecord, scopeKey } from '#core/endpoint.ts';
import type { FieldChanges } from '#core/fields.ts';
import { shippedGroupDefinitions } from '#core/group-pack.ts';
import { transitionId } from '#core/membership.ts';
import { FIELD, SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { evaluatorHarness } from '#test/helpers/evaluator.ts';
import { type RefFacts, type RefGroup, referenceMembership } from '#test/helpers/reference-criteria.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2_147_483_647);
// 8 runs of each property take about 15 s on DynamoDB Local; FUZZ_RUNS asks for more (the seed
// changes every run, so CI explores new scenarios each time). A failing run is
// reported as it is, not shrunk: each run is a whole scenario on DynamoDB Local, and shrinking one
// outlasts the test timeout; FUZZ_SEED repeats it.
const RUNS = Number(process.env.FUZZ_RUNS ?? 8);
/** Long enough for FUZZ_RUNS runs on a loaded machine (a run takes 2–5 s). */
const TIMEOUT_MS = Math.max(120_000, RUNS * 8_000);
const ENDPOINTS = ['EP-1', 'EP-2', 'EP-3'];
const ENABLE = 'Windows Workstation and Server';

/** Groups beside the shipped ones: a prefix, a day window, membership references, blocks. */
const CUSTOM = [
  {
    id: 'lab-hosts',
    name: 'Lab hosts',
    criteria: { field: 'Hostname', operator: 'Begins with', values: ['lab'] },
    alert: { on: ['enter', 'exit'], severity: 'low' },
  },
  {
    id: 'recent',
    name: 'Recent',
    criteria: { field: 'Last Report', operator: 'Within last days', values: ['1'] },
  },
  {
    id: 'failed-outside-lab',
    name: 'Failed outside the lab',
    criteria: {
      all: [
        { field: 'Group', operator: 'Member of group', values: ['bitlocker-key-backup-failed'] },
        { field: 'Group', operator: 'Not member of group', values: ['LAB-HOSTS'] },
      ],
    },
    alert: { on: ['enter'], severity: 'high' },
  },
  {
    id: 'server-or-off',
    name: 'Server or backup off',
    blocks: [
      [{ field: 'Endpoint Type', operator: 'Equal', values: ['Server'] }],
      [{ field: 'Disable BitLocker Key Backup', level: 'ENDPOINT', operator: 'Equal', values: [true] }],
    ],
  },
];
const REFERENCE: RefGroup[] = [
  ...shippedGroupDefinitions().map((d) => ({ id: d.id, definition: { ...d } })),
  ...CUSTOM.map((d) => ({ id: d.id, definition: d })),
];
const GROUP_IDS = REFERENCE.map((g) => g.id);
/** Groups whose verdict depends only on the fields a transition records (no Group criteria). */
const SELF_CONTAINED = new Set(GROUP_IDS.filter((id) => id !== 'failed-outside-lab'));

const report = fc.record({
  endpoint: fc.constantFrom(...ENDPOINTS),
  // Seconds before the clock: some reports land outside the 1-day window, some are stale.
  offset: fc.oneof(fc.integer({ min: -3_600, max: 0 }), fc.integer({ min: -4 * 86_400, max: -2 * 86_400 })),
  status: fc.constantFrom<string | null | undefined>(
    SCRIPT_OUTPUT.failed,
    SCRIPT_OUTPUT.success,
    SCRIPT_OUTPUT.keyNotFound,
    SCRIPT_OUTPUT.disabled,
    '',
    null,
    undefined,
  ),
  disable: fc.constantFrom<boolean | null | undefined>(true, false, null, undefined),
  hostname: fc.constantFrom('LAB-1', 'pc-2', 'lab-3'),
  endpointType: fc.constantFrom('Laptop', 'Server'),
});
type Step =
  | { kind: 'report'; report: typeof report extends fc.Arbitrary<infer R> ? R : never }
  | { kind: 'deliver'; take: number[]; order: number }
  | { kind: 'redeliver'; which: number }
  | { kind: 'park'; endpoint: number; count: number; split: number }
  | { kind: 'company'; enable: string | null }
  | { kind: 'site'; disable: boolean | null };
const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: report.map((r) => ({ kind: 'report' as const, report: r })), weight: 4 },
  {
    arbitrary: fc
      .record({
        take: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 5, maxLength: 5 }),
        order: fc.nat(),
      })
      .map((d) => ({ kind: 'deliver' as const, ...d })),
    weight: 3,
  },
  { arbitrary: fc.nat().map((which) => ({ kind: 'redeliver' as const, which })), weight: 2 },
  {
    arbitrary: fc
      .record({
        endpoint: fc.nat({ max: ENDPOINTS.length - 1 }),
        count: fc.integer({ min: 1, max: 3 }),
        // Where the replay's first invocation stops: the rest comes back in a later one (a retry of
        // the records that failed, or the next round's replay of the range's rest).
        split: fc.nat({ max: 3 }),
      })
      .map((p) => ({ kind: 'park' as const, ...p })),
    weight: 1,
  },
  fc
    .constantFrom(ENABLE, 'Windows Workstation', 'Disabled', null)
    .map((enable) => ({ kind: 'company' as const, enable })),
  fc.constantFrom(true, false, null).map((disable) => ({ kind: 'site' as const, disable })),
);

/** The facts docs/api.md §4 gives an endpoint, its company and its site (defaults applied). */
function factsOf(
  e: EndpointRecord,
  company: ScopeRecord | undefined,
  site: ScopeRecord | undefined,
): RefFacts {
  const facts: Record<string, string | number | boolean | undefined> = {
    [fieldKey('COMPANY', FIELD.enableBackup)]: company?.fields[FIELD.enableBackup],
    [fieldKey('SITE', FIELD.disableBackup)]: site?.fields[FIELD.disableBackup] ?? false,
    [fieldKey('ENDPOINT', FIELD.disableBackup)]: false,
  };
  for (const [name, value] of Object.entries(e.fields)) facts[fieldKey('ENDPOINT', name)] = value;
  const builtIns = [
    [FIELD.osType, e.osType],
    [FIELD.endpointType, e.endpointType],
    [FIELD.hostname, e.hostname],
    [FIELD.company, e.companyId],
    [FIELD.site, e.siteId],
    [FIELD.lastReport, e.observedAt],
  ] as const;
  for (const [name, value] of builtIns) if (value !== null) facts[fieldKey('ENDPOINT', name)] = value;
  return Object.fromEntries(Object.entries(facts).filter(([, v]) => v !== undefined));
}

const member = (facts: RefFacts, nowMs: number) =>
  referenceMembership(SHIPPED_CATALOGUE.fields, REFERENCE, facts, nowMs);
interface TransitionItem {
  readonly transitionId: string;
  readonly endpointId: string;
  readonly groupId: string;
  readonly event: 'entered' | 'exited';
  readonly occurredAt: string;
  readonly fields: Record<string, string | number | boolean | null>;
  readonly reportRev: number;
  readonly recordedLate: boolean;
}
/** The queue a record waits in: its endpoint's, or SCOPES for company and site records. */
const SCOPES = 'scopes';
const queueOf = (r: DynamoDBRecord) => {
  const image = r.dynamodb?.NewImage ?? r.dynamodb?.OldImage;
  const type = image?.type?.S;
  if (type === 'COMPANY' || type === 'SITE') return SCOPES;
  return type === 'ENDPOINT' ? image?.endpointId?.S : undefined;
};

type Totals = Record<
  'reports' | 'scopeChanges' | 'deliveries' | 'redeliveries' | 'parked' | 'transitions',
  number
>;

/**
 * The transitions a sequence of applied reports implies (reports only: company and site stay as
 * set up), from the reference evaluator: each endpoint's membership after each of its reports.
 */
function impliedTransitions() {
  const counts = new Map<string, number>();
  const state = new Map<string, { fields: Record<string, unknown>; groups: Set<string> }>();
  const company: ScopeRecord = { companyId: 'contoso', name: null, fields: { [FIELD.enableBackup]: ENABLE } };
  return {
    counts,
    applied(
      endpointId: string,
      r: { hostname: string; endpointType: string },
      set: Record<string, unknown>,
      clear: readonly string[],
      observedAt: string,
      nowMs: number,
    ) {
      const prev = state.get(endpointId) ?? { fields: {}, groups: new Set<string>() };
      const fields: Record<string, unknown> = { ...prev.fields, ...set };
      for (const name of clear) delete fields[name];
      const record = {
        endpointId,
        companyId: 'contoso',
        siteId: 'hq',
        hostname: r.hostname,
        osType: 'Windows',
        endpointType: r.endpointType,
        observedAt,
        fields,
      } as unknown as EndpointRecord;
      const groups = member(factsOf(record, company, undefined), nowMs);
      const bump = (g: string, event: string) => {
        const key = `${endpointId} ${g} ${event}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      };
      for (const g of groups) if (!prev.groups.has(g)) bump(g, 'entered');
      for (const g of prev.groups) if (!groups.has(g)) bump(g, 'exited');
      state.set(endpointId, { fields, groups });
    },
  };
}

/** Runs one generated scenario and checks where it ends; `exact` also checks every transition. */
async function deliverAndCheck(steps: Step[], totals: Totals, exact: boolean) {
  const implied = impliedTransitions();

  // Prepare
  let clock = Date.parse('2026-11-26T10:00:00Z');
  const t = await evaluatorHarness({ now: () => clock });
  for (const def of CUSTOM) await t.groups.put(parseGroupDefinition(def.id, def, SHIPPED_CATALOGUE), t.at(0));
  await t.setCompany('contoso', { [FIELD.enableBackup]: ENABLE }, 0);
  await t.settle();
  const queues = new Map<string, DynamoDBRecord[]>([...ENDPOINTS, SCOPES].map((id) => [id, []]));
  const delivered: DynamoDBRecord[][] = [];
  const parked: { records: DynamoDBRecord[]; split: number }[] = [];
  const deliver = async (batch: DynamoDBRecord[], replay = false) => {
    const res = await t.deliver(batch, { replay });
    expect(res?.batchItemFailures ?? []).toEqual([]);
  };
  const pull = async () => {
    for (const r of await t.stream.next()) {
      const queue = queues.get(queueOf(r) ?? '');
      // Records of other items (jobs, member items, transitions) go through at once, in order.
      if (queue === undefined) await deliver([r]);
      else queue.push(r);
    }
  };

  // Act
  for (const s of steps) {
    clock += 1_000;
    if (s.kind === 'report') {
      const { endpoint, offset, status, disable, hostname, endpointType } = s.report;
      const set: Record<string, unknown> = {};
      const clear: string[] = [];
      for (const [name, value] of [
        [FIELD.backupStatus, status],
        [FIELD.disableBackup, disable],
      ] as const) {
        if (value === null) clear.push(name);
        else if (value !== undefined) set[name] = value;
      }
      const result = await t.report(endpoint, offset, set, { hostname, endpointType }, clear);
      totals.reports++;
      if (result === 'applied') implied.applied(endpoint, s.report, set, clear, t.at(offset), clock);
    } else if (s.kind === 'deliver') {
      await pull();
      // Up to `take[i]` records from the head of each endpoint's queue, interleaved.
      const parts = [...ENDPOINTS, SCOPES].map((id, i) => (queues.get(id) ?? []).splice(0, s.take[i] ?? 0));
      const batch: DynamoDBRecord[] = [];
      let turn = s.order;
      while (parts.some((p) => p.length > 0)) {
        const nonEmpty = parts.filter((p) => p.length > 0);
        batch.push(nonEmpty[turn++ % nonEmpty.length]?.shift() as DynamoDBRecord);
        turn = (turn * 7 + 3) % 1_000;
      }
      if (batch.length > 0) {
        await deliver(batch);
        delivered.push(batch);
        totals.deliveries++;
      }
    } else if (s.kind === 'park') {
      // The head of one endpoint's queue is given up to the on-failure queue; the stream moves on.
      await pull();
      const records = (queues.get(ENDPOINTS[s.endpoint] as string) ?? []).splice(0, s.count);
      if (records.length > 0) {
        parked.push({ records, split: s.split });
        totals.parked += records.length;
      }
    } else if (s.kind === 'company') {
      await t.setCompany('contoso', { [FIELD.enableBackup]: s.enable }, 0);
      totals.scopeChanges++;
    } else if (s.kind === 'site') {
      const changes: FieldChanges =
        s.disable === null
          ? { set: {}, clear: [FIELD.disableBackup] }
          : { set: { [FIELD.disableBackup]: s.disable }, clear: [] };
      await t.repo.upsertScope({ companyId: 'contoso', siteId: 'hq' }, undefined, changes, t.at(0));
      totals.scopeChanges++;
    } else if (delivered.length > 0) {
      await deliver(delivered[s.which % delivered.length] as DynamoDBRecord[]);
      totals.redeliveries++;
    }
  }
  await pull();
  for (const id of [SCOPES, ...ENDPOINTS]) await deliver(queues.get(id) ?? []);
  await t.settle();
  // The operator replays the parked batches, oldest first, each in one invocation or two, and (by
  // mistake) once more, whole.
  for (const { records, split } of parked)
    for (const part of [records.slice(0, split), records.slice(split)])
      if (part.length > 0) await deliver(part, true);
  for (const { records } of parked) await deliver(records, true);
  await t.settle();
  const scopes = await t.repo.getScopes(
    [{ companyId: 'contoso' }, { companyId: 'contoso', siteId: 'hq' }],
    true,
  );
  const company = scopes.get(scopeKey({ companyId: 'contoso' }));
  const site = scopes.get(scopeKey({ companyId: 'contoso', siteId: 'hq' }));

  // Assess
  const transitions = (await Promise.all(GROUP_IDS.map((g) => t.transitions(g)))).flat() as TransitionItem[];
  for (const id of ENDPOINTS) {
    const stored = await t.repo.getEndpoint(id, true);
    const expected = stored === undefined ? new Set<string>() : member(factsOf(stored, company, site), clock);
    expect(await t.groupsOf(id), `${id} membership`).toEqual([...expected].sort());
    for (const g of GROUP_IDS) {
      const mine = transitions
        .filter((x) => x.endpointId === id && x.groupId === g)
        .map((x) => {
          // A state recorded late is named by its report, and belongs before what that report's
          // successors recorded; the others by the membership revision they produced.
          const grev = x.recordedLate
            ? -1
            : Array.from({ length: 400 }, (_, i) => i + 1).find(
                (n) => transitionId(id, g, x.event, n) === x.transitionId,
              );
          if (x.recordedLate) {
            expect(transitionId(id, g, x.event, `late:${x.reportRev}`), 'a late id').toBe(x.transitionId);
          }
          expect(grev, `${x.transitionId} has the id scheme's id`).toBeDefined();
          return { ...x, grev: grev as number };
        })
        .sort((a, b) => a.reportRev - b.reportRev || a.grev - b.grev);
      mine.forEach((x, i) => {
        expect(x.event, `${id} ${g} transition ${i}`).toBe(i % 2 === 0 ? 'entered' : 'exited');
        if (SELF_CONTAINED.has(g)) {
          const facts = Object.fromEntries(Object.entries(x.fields).filter(([, v]) => v !== null));
          const inGroup = member(facts as RefFacts, Date.parse(x.occurredAt)).has(g);
          expect(inGroup, `${id} ${g} ${x.event} for ${JSON.stringify(x.fields)}`).toBe(
            x.event === 'entered',
          );
        }
      });
      expect(mine.length % 2 === 1, `${id} ${g} last transition`).toBe(expected.has(g));
      const members = (await t.memberItems(g)).filter((m) => m.endsWith(`/${id}`));
      expect(members, `${id} ${g} member item`).toEqual(expected.has(g) ? [`contoso/${id}`] : []);
    }
  }
  if (exact) {
    // Reports only: every state an applied report produced recorded its transitions, once.
    const recorded = new Map<string, number>();
    for (const x of transitions) {
      const key = `${x.endpointId} ${x.groupId} ${x.event}`;
      recorded.set(key, (recorded.get(key) ?? 0) + 1);
    }
    expect(Object.fromEntries([...recorded].sort()), 'transitions per endpoint, group and event').toEqual(
      Object.fromEntries([...implied.counts].sort()),
    );
  }
  totals.transitions += transitions.length;
}

/** Runs the property over `steps` (checked exactly or not), logs the totals, and returns them. */
async function fuzz(label: string, steps: fc.Arbitrary<Step>, exact: boolean): Promise<Totals> {
  const started = performance.now();
  const totals: Totals = {
    reports: 0,
    scopeChanges: 0,
    deliveries: 0,
    redeliveries: 0,
    parked: 0,
    transitions: 0,
  };
  await fc.assert(
    fc.asyncProperty(fc.array(steps, { minLength: 6, maxLength: 24 }), (run) =>
      deliverAndCheck(run, totals, exact),
    ),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${label}: ${RUNS} runs, ${JSON.stringify(totals)}, ${seconds} s`);
  return totals;
}

describe('fuzzing stream delivery (fast-check, DynamoDB Local)', () => {
  it(
    'ends at the reference membership with each transition once, whatever the batching and redelivery',
    async () => {
      console.log(`stream fuzz seed ${SEED} (FUZZ_SEED=${SEED} npm test -- fuzz-stream reproduces)`);
      const totals = await fuzz('stream fuzz', step, false);
      expect(totals.redeliveries).toBeGreaterThan(0);
      expect(totals.scopeChanges).toBeGreaterThan(0);
      expect(totals.transitions).toBeGreaterThan(RUNS);
    },
    TIMEOUT_MS,
  );

  it(
    'records every state an applied report produced, once, whatever the batching and redelivery',
    async () => {
      // Statuses alone move the membership here, so a state and its undoing follow each other often.
      const narrow = fc.record({
        endpoint: fc.constantFrom(...ENDPOINTS),
        // Mostly in order (a step is 1 s), so most reports apply and follow each other closely.
        offset: fc.integer({ min: -1, max: 0 }),
        status: fc.constantFrom<string | null | undefined>(
          SCRIPT_OUTPUT.failed,
          SCRIPT_OUTPUT.disabled,
          SCRIPT_OUTPUT.success,
        ),
        disable: fc.constant(undefined),
        hostname: fc.constant('pc-2'),
        endpointType: fc.constant('Laptop'),
      });
      const reportsOnly: fc.Arbitrary<Step> = fc.oneof(
        { arbitrary: narrow.map((r) => ({ kind: 'report' as const, report: r })), weight: 4 },
        { arbitrary: step.filter((s) => s.kind === 'deliver' || s.kind === 'redeliver'), weight: 3 },
        // Two or three consecutive reports parked together: the next one can catch up only the last.
        {
          arbitrary: step
            .filter((s) => s.kind === 'park')
            .map((p) => ({ ...p, count: Math.max(2, p.count) })),
          weight: 2,
        },
      );
      const totals = await fuzz('stream fuzz (reports only)', reportsOnly, true);
      expect(totals.redeliveries).toBeGreaterThan(0);
      expect(totals.transitions).toBeGreaterThan(RUNS);
    },
    TIMEOUT_MS,
  );
});
