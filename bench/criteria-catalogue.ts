// The criteria budget with a catalogue as data (issue 8): a generated catalogue of 200 custom fields
// (Dropdown, Flag, Text, Number, Date over the three levels) and 100 groups of 1–3 blocks, evaluated
// by keywatch's compiled engine and by json-logic-engine's compiled rules over the same fleet, which
// must agree on every endpoint before anything is timed. Also timed: compiling the ruleset, the
// "change matters" test per report, importing the 100 groups with their catalogue, and linting them.
// As in criteria.ts, the JSON rules get lower-cased facts and values prepared outside the timing.
import { LogicEngine } from 'json-logic-engine';
import { type FieldDefinition, fieldKey } from '../functions/core/catalogue.ts';
import { evaluate, type Facts, type GroupDefinition, lintGroup } from '../functions/core/criteria/index.ts';
import type { EndpointRecord } from '../functions/core/endpoint.ts';
import { endpointChangeMatters } from '../functions/core/membership.ts';
import { planImport } from '../functions/core/rmm-import.ts';
import { buildRuleset } from '../functions/core/ruleset.ts';
import { catalogueOf } from '../functions/core/shipped-catalogue.ts';
import type { BudgetResult } from './run.ts';

const FIELDS = 200;
const GROUPS = 100;
const FLEET = 2_000;
const ROUNDS = 7;
const ROUND_MS = 150;

function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['alpha', 'bravo', 'delta', 'echo', 'kilo', 'lima', 'nova', 'orbit', 'prime', 'quartz'];

interface Generated {
  readonly fields: FieldDefinition[];
  /** Groups as an RMM export would give them (blocks of { field, level, operator, values }). */
  readonly raw: { id: string; name: string; blocks: unknown[][] }[];
}

function generate(random: () => number): Generated {
  const int = (n: number) => Math.floor(random() * n);
  const fields: FieldDefinition[] = [];
  for (let i = 0; i < FIELDS; i++) {
    const level = i < 40 ? 'COMPANY' : i < 80 ? 'SITE' : 'ENDPOINT';
    const type = (['Dropdown', 'Flag', 'Text', 'Number', 'Date'] as const)[i % 5] as FieldDefinition['type'];
    const name = `Field ${String(i).padStart(3, '0')}`;
    if (type === 'Dropdown') {
      const n = 3 + int(6);
      const options = Array.from({ length: n }, (_, k) => `${WORDS[(i + k) % WORDS.length]} ${k}`);
      fields.push({ name, level, type, options });
    } else if (type === 'Text') fields.push({ name, level, type, maxLength: 200 });
    else if (type === 'Flag') fields.push({ name, level, type, default: false });
    else fields.push({ name, level, type });
  }
  const raw: Generated['raw'] = [];
  for (let g = 0; g < GROUPS; g++) {
    const blocks = Array.from({ length: 1 + int(3) }, () =>
      Array.from({ length: 2 + int(4) }, () => {
        const f = fields[int(fields.length)] as FieldDefinition;
        const base = { field: f.name, level: f.level };
        switch (f.type) {
          case 'Dropdown': {
            const options = f.options ?? [];
            const pickOne = () => options[int(options.length)] as string;
            const r = random();
            if (r < 0.4) return { ...base, operator: 'Equal', values: [pickOne(), pickOne()] };
            if (r < 0.6) return { ...base, operator: 'Not Equal', values: [pickOne()] };
            return { ...base, operator: 'Contains any of', values: [pickOne().split(' ')[0] as string] };
          }
          case 'Flag':
            return { ...base, operator: 'Equal', values: [random() < 0.5 ? 'True' : 'False'] };
          case 'Text': {
            const r = random();
            if (r < 0.15) return { ...base, operator: 'Is Blank', values: ['True'] };
            const op = r < 0.75 ? 'Contains any of' : 'Does Not Contain any of';
            return { ...base, operator: op, values: [WORDS[int(WORDS.length)] as string] };
          }
          case 'Number':
            return {
              ...base,
              operator: random() < 0.5 ? 'Greater than' : 'Less than',
              values: [String(int(100))],
            };
          case 'Date': {
            const day = new Date(Date.UTC(2025, int(12), 1 + int(28))).toISOString();
            return { ...base, operator: random() < 0.5 ? 'Greater than' : 'Less than', values: [day] };
          }
          default:
            throw new Error(`no generator for ${f.type}`);
        }
      }),
    );
    raw.push({ id: `g-${g}`, name: `Generated ${g}`, blocks });
  }
  return { fields, raw };
}

function fleetOf(random: () => number, fields: readonly FieldDefinition[]): Facts[] {
  const int = (n: number) => Math.floor(random() * n);
  return Array.from({ length: FLEET }, () => {
    const facts: Record<string, Facts[string]> = {};
    for (const f of fields) {
      if (random() < 0.1) continue; // unset
      const k = fieldKey(f.level, f.name);
      if (f.type === 'Dropdown') facts[k] = (f.options ?? [])[int(f.options?.length ?? 1)];
      else if (f.type === 'Flag') facts[k] = random() < 0.5;
      else if (f.type === 'Text')
        facts[k] = `${WORDS[int(WORDS.length)]} ${WORDS[int(WORDS.length)]} ${int(1000)}`;
      else if (f.type === 'Number') facts[k] = int(100);
      else facts[k] = new Date(Date.UTC(2025, int(12), 1 + int(28), int(24))).toISOString();
    }
    // Flags with a default evaluate to it when unset, as factsFor gives them.
    for (const f of fields) if (f.default !== undefined) facts[fieldKey(f.level, f.name)] ??= f.default;
    return facts as Facts;
  });
}

/** One leaf as JSON Logic over lower-cased facts (the translation a JSON-rules user would write). */
function toLogic(
  leaf: { field: string; level: string; operator: string; values: string[] },
  f: FieldDefinition,
) {
  const v = { var: fieldKey(f.level, f.name) };
  const vals = leaf.values.map((x) => x.toLowerCase());
  const set = { '!==': [v, null] };
  switch (leaf.operator) {
    case 'Equal':
      if (f.type === 'Flag') return { '===': [v, vals[0] === 'true'] };
      return { or: vals.map((x) => ({ '===': [v, x] })) };
    case 'Not Equal':
      return { '!': { or: vals.map((x) => ({ '===': [v, x] })) } };
    case 'Contains any of':
      return { or: vals.map((x) => ({ in: [x, v] })) };
    case 'Does Not Contain any of':
      return { '!': { or: vals.map((x) => ({ in: [x, v] })) } };
    case 'Is Blank':
      return { '!': v };
    case 'Greater than':
    case 'Less than': {
      const op = leaf.operator === 'Greater than' ? '>' : '<';
      const value = f.type === 'Number' ? Number(vals[0]) : vals[0];
      return { and: [set, { [op]: [v, value] }] };
    }
    default:
      throw new Error(`no translation for ${leaf.operator}`);
  }
}

function lowerCased(facts: Facts): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(facts)) out[k] = typeof v === 'string' ? v.toLowerCase() : v;
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] as number;
}

let sink = 0;
function throughput<T>(fn: (facts: T) => number, fleet: readonly T[], ms: number): number {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (const f of fleet) sink += fn(f);
    n += fleet.length;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (n / elapsed) * 1000;
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = fn();
  return { value, ms: performance.now() - start };
}

export async function catalogueCase(): Promise<BudgetResult[]> {
  const random = prng(8);
  const { fields, raw } = generate(random);

  // Import: the generated solution as an RMM export, planned against an empty table.
  const exported = {
    customFields: fields.map((f) => ({
      fieldName: f.name,
      scope: f.level,
      fieldType: f.type,
      options: f.options,
      defaultValue: f.default,
      maxLength: f.maxLength,
    })),
  };
  const imported = timed(() => planImport(exported, { dynamicGroups: raw }, { fields: [], groups: [] }));
  const definitions: GroupDefinition[] = imported.value.groups.write;
  const catalogue = catalogueOf(imported.value.fields.write);
  const compiled = timed(() => buildRuleset(catalogue, definitions, 1));
  const ruleset = compiled.value;
  const linted = timed(() => definitions.reduce((n, d) => n + lintGroup(d, catalogue).length, 0));

  const fleet = fleetOf(random, fields);
  const lowered = fleet.map(lowerCased);
  const byKey = new Map(fields.map((f) => [`${f.level}|${f.name}`, f]));
  const engine = new LogicEngine();
  const logic = raw.map((g) => {
    const rule = {
      or: g.blocks.map((block) => ({
        and: (block as { field: string; level: string; operator: string; values: string[] }[]).map((leaf) =>
          toLogic(leaf, byKey.get(`${leaf.level}|${leaf.field}`) as FieldDefinition),
        ),
      })),
    };
    return [g.id, engine.build(rule) as (facts: unknown) => unknown] as const;
  });
  const keywatch = (facts: Facts) => evaluate(ruleset.groups, facts, 0);
  const viaLogic = (facts: Record<string, unknown>) => {
    const out = new Set<string>();
    for (const [id, p] of logic) if (p(facts)) out.add(id);
    return out;
  };
  const key = (s: ReadonlySet<string>) => [...s].sort().join(',');
  let memberships = 0;
  fleet.forEach((facts, i) => {
    const a = key(keywatch(facts));
    const b = key(viaLogic(lowered[i] as Record<string, unknown>));
    if (a !== b) throw new Error(`json-logic-engine disagrees on endpoint ${i}: ${b} ≠ ${a}`);
    memberships += a === '' ? 0 : a.split(',').length;
  });

  // The "change matters" test of one report, from its images (the evaluator's per-update CPU).
  const before: EndpointRecord = {
    endpointId: 'E',
    companyId: 'c',
    siteId: 's',
    hostname: 'E',
    osType: 'Windows',
    endpointType: 'Laptop',
    observedAt: '2026-01-01T00:00:00Z',
    observedAtMs: 0,
    observedKey: '',
    fields: Object.fromEntries(
      fields.filter((f) => f.level === 'ENDPOINT' && f.type === 'Text').map((f) => [f.name, 'x']),
    ),
    groups: {},
    rev: 1,
    grev: 0,
  };
  const after = { ...before, observedAt: '2026-01-02T00:00:00Z', rev: 2 };
  const matters = timed(() => {
    for (let i = 0; i < 10_000; i++) sink += endpointChangeMatters(ruleset, before, after) ? 1 : 0;
  });

  for (let w = 0; w < 2; w++) {
    throughput((f: Facts) => keywatch(f).size, fleet, 100);
    throughput((f: Record<string, unknown>) => viaLogic(f).size, lowered, 100);
  }
  const ratios: number[] = [];
  const rates: [number[], number[]] = [[], []];
  for (let r = 0; r < ROUNDS; r++) {
    const a = throughput((f: Facts) => keywatch(f).size, fleet, ROUND_MS);
    const b = throughput((f: Record<string, unknown>) => viaLogic(f).size, lowered, ROUND_MS);
    rates[0].push(a);
    rates[1].push(b);
    ratios.push(a / b);
  }
  const ratio = median(ratios);
  console.log(
    `\ncatalogue as data: ${FIELDS} fields, ${GROUPS} groups, ${FLEET} endpoints (${memberships} memberships); both agree on every endpoint`,
  );
  console.log(
    `  keywatch engine              ${Math.round(median(rates[0])).toLocaleString('en-US').padStart(10)} evaluations/s`,
  );
  console.log(
    `  json-logic-engine (compiled) ${Math.round(median(rates[1])).toLocaleString('en-US').padStart(10)} evaluations/s`,
  );
  console.log(`  import (plan) of ${GROUPS} groups + ${FIELDS} fields: ${imported.ms.toFixed(1)} ms`);
  console.log(
    `  ruleset compile: ${compiled.ms.toFixed(1)} ms; lint of ${GROUPS} groups: ${linted.ms.toFixed(1)} ms (${linted.value} warnings)`,
  );
  console.log(
    `  change-matters test: ${((matters.ms * 1000) / 10_000).toFixed(2)} µs per report (sink ${sink % 10})`,
  );
  return [
    {
      budget: `criteria engine, ${FIELDS} fields / ${GROUPS} groups ≥ 1.0× json-logic-engine (compiled)`,
      measured: `${ratio.toFixed(2)}×`,
      pass: ratio >= 1.0,
    },
  ];
}
