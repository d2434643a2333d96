// Criteria engine budget (DESIGN §7): evaluations per second on the shipped group pack, against
// json-logic-engine's compiled rules (≥ 1.0×) and a hand-written predicate (≥ 0.7×), with
// json-rules-engine and json-logic-js beside them. Same generated fleet, same process, interleaved
// rounds; every implementation returns the Set of group ids, and all must agree on every endpoint
// before anything is timed.
//
// Fairness: keywatch's engine and the hand-written predicate read the facts as stored and ignore case
// themselves. The JSON rule libraries have no case-insensitive operators, so they get a copy of the
// facts with every string lower-cased beforehand (outside the timing) and rules with lower-cased
// values: an advantage to them.

import { createRequire } from 'node:module';
import { LogicEngine } from 'json-logic-engine';
import { Engine } from 'json-rules-engine';
import { fieldKey } from '../functions/core/catalogue.ts';
import { compileGroups, evaluate, type Facts } from '../functions/core/criteria/index.ts';
import { SHIPPED_GROUP_IDS, shippedGroupDefinitions } from '../functions/core/group-pack.ts';
import { FIELD, SHIPPED_CATALOGUE } from '../functions/core/shipped-catalogue.ts';
import { catalogueCase } from './criteria-catalogue.ts';
import type { BenchReport } from './run.ts';

// json-logic-js ships no types and no ES module.
const jsonLogic = createRequire(import.meta.url)('json-logic-js') as {
  apply(rule: unknown, data: unknown): unknown;
};

const FLEET_SIZE = 10_000;
const ROUNDS = 9;
const ROUND_MS = 150;
const RULES_ENGINE_SAMPLE = 2_000;

const K = {
  enable: fieldKey('COMPANY', FIELD.enableBackup),
  siteDisable: fieldKey('SITE', FIELD.disableBackup),
  endpointDisable: fieldKey('ENDPOINT', FIELD.disableBackup),
  status: fieldKey('ENDPOINT', FIELD.backupStatus),
  os: fieldKey('ENDPOINT', FIELD.osType),
  type: fieldKey('ENDPOINT', FIELD.endpointType),
  hostname: fieldKey('ENDPOINT', FIELD.hostname),
  company: fieldKey('ENDPOINT', FIELD.company),
  site: fieldKey('ENDPOINT', FIELD.site),
  lastReport: fieldKey('ENDPOINT', FIELD.lastReport),
} as const;
const { enabled, failed, successful, missing } = SHIPPED_GROUP_IDS;

type Membership = (facts: Facts) => Set<string>;

// ---------------------------------------------------------------------------------------------
// The fleet: deterministic, shaped like real MSP data (mostly Windows workstations, most backups
// succeeding, a few failures and missing keys, companies with differing policies).

function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, weighted: readonly (readonly [T, number])[]): T {
  const total = weighted.reduce((sum, [, w]) => sum + w, 0);
  let r = random() * total;
  for (const [value, w] of weighted) {
    r -= w;
    if (r < 0) return value;
  }
  return (weighted[weighted.length - 1] as readonly [T, number])[0];
}

function generateFleet(size: number): Facts[] {
  const random = prng(42);
  const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(random() * 10)).join('');
  const failedPart = (drive: string): string =>
    `${drive}: - FAILED - ${digits(6)}-${digits(6)}; ${random() < 0.5 ? 'Azure AD' : 'Local AD'}`;
  const companies = Array.from({ length: 200 }, (_, i) => ({
    id: `company-${i}`,
    enable: pick<string | undefined>(random, [
      ['Windows Workstation and Server', 45],
      ['Windows Workstation', 25],
      ['Windows Server', 10],
      ['Disabled', 15],
      [undefined, 5],
    ]),
  }));
  const now = Date.parse('2025-06-15T12:00:00Z');
  const fleet: Facts[] = [];
  for (let i = 0; i < size; i++) {
    const company = companies[Math.floor(random() * companies.length)] as (typeof companies)[number];
    const os = pick(random, [
      ['Windows', 82],
      ['macOS', 13],
      ['Linux', 5],
    ]);
    const type = pick(random, [
      ['Laptop', 45],
      ['Desktop', 30],
      ['Server', 15],
      ['Virtual Machine', 10],
    ]);
    const status = pick<() => string | undefined>(random, [
      [() => '| All BitLocker keys are backed up successfully. |', 60],
      [() => `| ${failedPart('C')} |`, 8],
      [() => `| ${failedPart('C')} | ${failedPart('D')} |`, 3],
      [() => '| D: - Key: Not Found |', 5],
      [() => '| C: - Key: Not Available |', 1],
      [() => '| Device is not joined to a domain or Azure AD. |', 6],
      [() => '| BitLocker module is unavailable on this device. |', 4],
      [() => 'BitLocker Disabled', 5],
      [() => undefined, 8],
    ])();
    fleet.push({
      [K.enable]: company.enable,
      [K.siteDisable]: random() < 0.05,
      [K.endpointDisable]: random() < 0.04,
      [K.status]: status,
      [K.os]: os,
      [K.type]: type,
      [K.hostname]: `${type === 'Server' ? 'SRV' : 'PC'}-${digits(5)}`,
      [K.company]: company.id,
      [K.site]: `site-${Math.floor(random() * 5)}`,
      [K.lastReport]: new Date(now - Math.floor(random() * 30 * 86_400_000)).toISOString(),
    });
  }
  return fleet;
}

function lowerCased(facts: Facts): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(facts)) out[k] = typeof v === 'string' ? v.toLowerCase() : v;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The implementations.

function keywatchEngine(nowMs: number): Membership {
  const set = compileGroups(shippedGroupDefinitions(), { catalogue: SHIPPED_CATALOGUE });
  return (facts) => evaluate(set, facts, nowMs);
}

/** What a careful engineer would write by hand for the four groups: the limit. */
function handWritten(): Membership {
  return (f) => {
    const members = new Set<string>();
    const enable = f[K.enable];
    if (
      f[K.os] === 'Windows' &&
      f[K.siteDisable] === false &&
      f[K.endpointDisable] === false &&
      typeof enable === 'string'
    ) {
      const e = enable.toLowerCase();
      const wanted =
        f[K.type] === 'Server'
          ? e.includes('windows server') || e.includes('windows workstation and server')
          : e.includes('windows workstation');
      if (wanted) members.add(enabled);
    }
    const status = f[K.status];
    if (typeof status === 'string') {
      const s = status.toLowerCase();
      if (s.includes('failed')) members.add(failed);
      if (s.includes('all bitlocker keys are backed up successfully')) members.add(successful);
      if (s.includes('not available') || s.includes('key: not found')) members.add(missing);
    }
    return members;
  };
}

/** The shipped pack as JSON Logic over lower-cased facts. */
function jsonLogicRules(): Record<string, unknown> {
  const v = (key: string) => ({ var: key });
  const has = (key: string, text: string) => ({ in: [text, v(key)] });
  const block = (enables: readonly string[], server: boolean) => ({
    and: [
      { or: enables.map((e) => has(K.enable, e)) },
      { '===': [v(K.os), 'windows'] },
      { [server ? '===' : '!==']: [v(K.type), 'server'] },
      { '===': [v(K.siteDisable), false] },
      { '===': [v(K.endpointDisable), false] },
    ],
  });
  return {
    [enabled]: {
      or: [
        block(['windows workstation', 'windows workstation and server'], false),
        block(['windows server', 'windows workstation and server'], true),
      ],
    },
    [failed]: has(K.status, 'failed'),
    [successful]: has(K.status, 'all bitlocker keys are backed up successfully'),
    [missing]: { or: [has(K.status, 'not available'), has(K.status, 'key: not found')] },
  };
}

function fromPredicates(predicates: readonly (readonly [string, (facts: unknown) => unknown])[]): Membership {
  return (facts) => {
    const members = new Set<string>();
    for (const [id, p] of predicates) if (p(facts)) members.add(id);
    return members;
  };
}

function jsonLogicEngine(): Membership {
  const engine = new LogicEngine();
  const built = Object.entries(jsonLogicRules()).map(
    ([id, rule]) => [id, engine.build(rule) as (facts: unknown) => unknown] as const,
  );
  return fromPredicates(built);
}

function jsonLogicJs(): Membership {
  const rules = Object.entries(jsonLogicRules());
  return fromPredicates(rules.map(([id, rule]) => [id, (facts: unknown) => jsonLogic.apply(rule, facts)]));
}

/** json-rules-engine over lower-cased facts, with a substring operator of its own. */
function jsonRulesEngine(): (facts: Record<string, unknown>) => Promise<Set<string>> {
  const engine = new Engine([], { allowUndefinedFacts: true });
  engine.addOperator<unknown, string[]>(
    'containsAnyOf',
    (fact, values) => typeof fact === 'string' && values.some((text) => fact.includes(text)),
  );
  const has = (key: string, values: string[]) => ({ fact: key, operator: 'containsAnyOf', value: values });
  const block = (enables: string[], server: boolean) => ({
    all: [
      has(K.enable, enables),
      { fact: K.os, operator: 'equal', value: 'windows' },
      { fact: K.type, operator: server ? 'equal' : 'notEqual', value: 'server' },
      { fact: K.siteDisable, operator: 'equal', value: false },
      { fact: K.endpointDisable, operator: 'equal', value: false },
    ],
  });
  const rule = (id: string, conditions: object) => ({ conditions, event: { type: id } }) as never;
  engine.addRule(
    rule(enabled, {
      any: [
        block(['windows workstation', 'windows workstation and server'], false),
        block(['windows server', 'windows workstation and server'], true),
      ],
    }),
  );
  engine.addRule(rule(failed, { all: [has(K.status, ['failed'])] }));
  engine.addRule(
    rule(successful, { all: [has(K.status, ['all bitlocker keys are backed up successfully'])] }),
  );
  engine.addRule(rule(missing, { all: [has(K.status, ['not available', 'key: not found'])] }));
  return async (facts) => {
    const { events } = await engine.run(facts);
    return new Set(events.map((e) => e.type));
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement.

let sink = 0;

/** Evaluations per second of `fn` over the fleet, looping whole passes for about `ms`. */
function throughput<T>(fn: (facts: T) => Set<string>, fleet: readonly T[], ms: number): number {
  let evaluations = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < fleet.length; i++) sink += fn(fleet[i] as T).size;
    evaluations += fleet.length;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (evaluations / elapsed) * 1000;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const key = (s: Set<string>): string => [...s].sort().join(',');

export async function run(): Promise<BenchReport> {
  const nowMs = Date.parse('2025-06-15T12:00:00Z');
  const fleet = generateFleet(FLEET_SIZE);
  const lowered = fleet.map(lowerCased);

  const sync: { name: string; fn: Membership; lower: boolean }[] = [
    { name: 'keywatch engine', fn: keywatchEngine(nowMs), lower: false },
    { name: 'json-logic-engine (compiled)', fn: jsonLogicEngine(), lower: true },
    { name: 'hand-written predicate', fn: handWritten(), lower: false },
    { name: 'json-logic-js', fn: jsonLogicJs(), lower: true },
  ];
  const rules = jsonRulesEngine();

  // Agreement first: a fast wrong answer is no answer.
  const counts = new Map<string, number>();
  for (let i = 0; i < fleet.length; i++) {
    const facts = fleet[i] as Facts;
    const low = lowered[i] as Record<string, unknown>;
    const expected = key(sync[0]?.fn(facts) ?? new Set());
    for (const impl of sync) {
      const got = key(impl.fn((impl.lower ? low : facts) as Facts));
      if (got !== expected) throw new Error(`${impl.name} disagrees on endpoint ${i}: ${got} ≠ ${expected}`);
    }
    const got = key(await rules(low));
    if (got !== expected)
      throw new Error(`json-rules-engine disagrees on endpoint ${i}: ${got} ≠ ${expected}`);
    for (const id of expected.split(',').filter(Boolean)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  console.log(`fleet: ${FLEET_SIZE} endpoints; all five implementations agree on every one`);
  console.log(`members: ${[...counts].map(([id, n]) => `${id} ${n}`).join(', ')}`);

  // Warm-up, then interleaved rounds so that drift and noise hit every implementation alike.
  for (const impl of sync)
    throughput(impl.fn as (f: unknown) => Set<string>, impl.lower ? lowered : fleet, 200);
  const samples = new Map<string, number[]>(sync.map((s) => [s.name, []]));
  const ratioVsLogic: number[] = [];
  const ratioVsHand: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const rates = sync.map((impl) =>
      throughput(impl.fn as (f: unknown) => Set<string>, impl.lower ? lowered : fleet, ROUND_MS),
    );
    sync.forEach((impl, i) => {
      samples.get(impl.name)?.push(rates[i] as number);
    });
    const [engine = 0, logic = 1, hand = 1] = rates;
    ratioVsLogic.push(engine / logic);
    ratioVsHand.push(engine / hand);
  }

  // json-rules-engine is asynchronous and far slower: time it on a sample, awaiting each run.
  const sample = lowered.slice(0, RULES_ENGINE_SAMPLE);
  const rulesStart = performance.now();
  for (const facts of sample) sink += (await rules(facts)).size;
  const rulesRate = (sample.length / (performance.now() - rulesStart)) * 1000;

  const rows: [string, number][] = [
    ...sync.map((s): [string, number] => [s.name, median(samples.get(s.name) ?? [])]),
    ['json-rules-engine', rulesRate],
  ];
  const engineRate = rows[0]?.[1] ?? 0;
  console.log(`\n${'implementation'.padEnd(30)} ${'evaluations/s'.padStart(14)}  vs engine`);
  for (const [name, rate] of rows) {
    console.log(
      `${name.padEnd(30)} ${Math.round(rate).toLocaleString('en-US').padStart(14)}  ${(rate / engineRate).toFixed(2)}×`,
    );
  }
  console.log(
    `(median of ${ROUNDS} interleaved rounds of ~${ROUND_MS} ms; json-rules-engine: one pass of ${RULES_ENGINE_SAMPLE}; sink ${sink % 10})`,
  );

  const vsLogic = median(ratioVsLogic);
  const vsHand = median(ratioVsHand);
  const budgets = [
    {
      budget: 'criteria engine ≥ 1.0× json-logic-engine (compiled)',
      measured: `${vsLogic.toFixed(2)}×`,
      pass: vsLogic >= 1.0,
    },
    {
      budget: 'criteria engine ≥ 0.7× hand-written predicate',
      measured: `${vsHand.toFixed(2)}×`,
      pass: vsHand >= 0.7,
    },
  ];
  // The same budget with a catalogue as data: 200 generated fields, 100 generated groups.
  budgets.push(...(await catalogueCase()));
  console.log('');
  for (const b of budgets) console.log(`${b.pass ? 'PASS' : 'FAIL'}  ${b.budget}: ${b.measured}`);
  return { budgets };
}
