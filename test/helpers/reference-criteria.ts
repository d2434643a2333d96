// A reference evaluator of group definitions, written from docs/api.md §4–5 (the operator table) and
// nothing else: it walks the definition as sent (names, operators and levels in any case, values as
// JSON), with exact arithmetic: instants in nanoseconds, day counts as decimal fractions. The fuzz
// tests compare the production engine (parse, compile, generated code) with it. Slow and plain on
// purpose; it shares no code with functions/core/criteria.
import type { FieldDefinition } from '#core/catalogue.ts';

export type RefFacts = Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>;
export interface RefGroup {
  readonly id: string;
  readonly definition: Readonly<Record<string, unknown>>;
}

const NS_PER_MS = 1_000_000n;
const DAY_NS = 86_400_000n * NS_PER_MS;
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):(\d{2})))?$/;

/** Nanoseconds since the epoch of an ISO date (UTC midnight) or date-time with a zone. */
export function refInstantNs(text: string): bigint {
  const m = ISO.exec(text.trim());
  if (m === null) throw new Error(`reference: not an ISO instant: ${text}`);
  const n = (i: number) => Number(m[i] ?? '0');
  const ms = Date.UTC(n(1), n(2) - 1, n(3), n(4), n(5), n(6));
  const fraction = BigInt((m[7] ?? '').padEnd(9, '0'));
  const offsetMinutes = m[9] === undefined ? 0 : (m[9] === '-' ? -1 : 1) * (n(10) * 60 + n(11));
  return BigInt(ms) * NS_PER_MS + fraction - BigInt(offsetMinutes) * 60_000n * NS_PER_MS;
}

/** A decimal text (`-1.5`, `1e3`, `.5`) as an exact fraction [numerator, denominator > 0]. */
function decimal(text: string): [bigint, bigint] {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (m === null) throw new Error(`reference: not a decimal: ${text}`);
  const digits = `${m[2] ?? ''}${m[3] ?? ''}` || '0';
  let num = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
  let den = 10n ** BigInt((m[3] ?? '').length);
  const exp = Number(m[4] ?? '0');
  if (exp >= 0) num *= 10n ** BigInt(exp);
  else den *= 10n ** BigInt(-exp);
  return [num, den];
}

const valueText = (v: unknown): string => (typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v));
const lower = (s: string) => s.toLowerCase();
const isEmpty = (v: unknown) => v === undefined || v === null || v === '';

function equalOne(def: FieldDefinition, fact: unknown, value: string): boolean {
  switch (def.type) {
    case 'Text':
    case 'Dropdown':
      if (value === '') return isEmpty(fact);
      return typeof fact === 'string' && lower(fact) === lower(value);
    case 'Flag':
      return typeof fact === 'boolean' && fact === (lower(value) === 'true');
    case 'Number':
      return typeof fact === 'number' && Number(value.trim()) === fact;
    case 'Date':
      return typeof fact === 'string' && refInstantNs(fact) === refInstantNs(value);
  }
}

function compare(def: FieldDefinition, fact: unknown, value: string): number | undefined {
  if (isEmpty(fact)) return undefined;
  if (def.type === 'Number') return Math.sign((fact as number) - Number(value.trim()));
  const d = refInstantNs(fact as string) - refInstantNs(value);
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

/** now − value against N × 24 h, exactly: the sign of (age − N days). */
function ageAgainst(fact: unknown, days: string, nowMs: number): number | undefined {
  if (isEmpty(fact)) return undefined;
  const age = BigInt(nowMs) * NS_PER_MS - refInstantNs(fact as string);
  const [num, den] = decimal(days);
  const d = age * den - num * DAY_NS;
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

function leafHolds(
  def: FieldDefinition,
  operator: string,
  values: readonly string[],
  fact: unknown,
  nowMs: number,
): boolean {
  if (def.multiValued === true) return listHolds(def, operator, values, fact, nowMs);
  const text = isEmpty(fact) ? '' : lower(valueText(fact));
  const has = (v: string) => text.includes(lower(v));
  switch (operator) {
    case 'equal':
      return values.some((v) => equalOne(def, fact, v));
    case 'not equal':
      return !values.some((v) => equalOne(def, fact, v));
    case 'contains any of':
      return values.some(has);
    case 'does not contain any of':
      return !values.some(has);
    case 'contains all of':
      return values.every(has);
    case 'begins with':
      return values.some((v) => text.startsWith(lower(v)));
    case 'ends with':
      return values.some((v) => text.endsWith(lower(v)));
    case 'is blank':
      return lower(values[0] ?? '') === 'true' ? isEmpty(fact) : !isEmpty(fact);
    case 'greater than':
      return compare(def, fact, values[0] ?? '') === 1;
    case 'less than':
      return compare(def, fact, values[0] ?? '') === -1;
    case 'older than days':
      return ageAgainst(fact, values[0] ?? '', nowMs) === 1;
    case 'within last days':
      return (ageAgainst(fact, values[0] ?? '', nowMs) ?? 1) <= 0;
    default:
      throw new Error(`reference: operator ${operator} on ${def.name}`);
  }
}

/**
 * A list built-in (docs/api.md §5): with no element it is an empty field; otherwise a criterion holds
 * when it holds for some element (Contains all of: each value in some element), and the negated
 * operators when the positive one holds for none.
 */
function listHolds(
  def: FieldDefinition,
  operator: string,
  values: readonly string[],
  fact: unknown,
  nowMs: number,
) {
  const single = { ...def, multiValued: false };
  const list = Array.isArray(fact) ? (fact as string[]) : [];
  if (list.length === 0) return leafHolds(single, operator, values, undefined, nowMs);
  const some = (op: string) => list.some((el) => leafHolds(single, op, values, el, nowMs));
  switch (operator) {
    case 'not equal':
      return !some('equal');
    case 'does not contain any of':
      return !some('contains any of');
    case 'contains all of':
      return values.every((v) => list.some((el) => lower(el).includes(lower(v))));
    case 'is blank':
      return lower(values[0] ?? '') !== 'true';
    default:
      return some(operator);
  }
}

/**
 * Ids of the groups the facts make an endpoint a member of. `facts` are keyed `<LEVEL>:<name>`, with
 * catalogue defaults already applied, unset fields absent (docs/api.md §4).
 */
export function referenceMembership(
  fields: readonly FieldDefinition[],
  groups: readonly RefGroup[],
  facts: RefFacts,
  nowMs: number,
): Set<string> {
  const byId = new Map(groups.map((g) => [lower(g.id), g]));
  const memo = new Map<string, boolean>();
  const member = (id: string): boolean => {
    const g = byId.get(lower(id));
    if (g === undefined) throw new Error(`reference: unknown group ${id}`);
    let result = memo.get(g.id);
    if (result === undefined) {
      const def = g.definition;
      result = Array.isArray(def.blocks)
        ? def.blocks.some((block: unknown[]) => block.every(node))
        : node(def.criteria);
      memo.set(g.id, result);
    }
    return result;
  };
  const node = (n: unknown): boolean => {
    const o = n as Record<string, unknown>;
    if (Array.isArray(o.all)) return o.all.every(node);
    if (Array.isArray(o.any)) return o.any.some(node);
    if ('not' in o) return !node(o.not);
    const values = (o.values as unknown[]).map(valueText);
    const operator = lower(String(o.operator));
    const name = lower(String(o.field));
    if (name === 'group') {
      const inAny = values.some(member);
      return operator === 'member of group' ? inAny : !inAny;
    }
    const named = fields.filter((f) => lower(f.name) === name);
    const def =
      o.level === undefined ? named[0] : named.find((f) => f.level === String(o.level).toUpperCase());
    if (def === undefined || (o.level === undefined && named.length !== 1)) {
      throw new Error(`reference: field ${String(o.field)} / ${String(o.level)}`);
    }
    return leafHolds(def, operator, values, facts[`${def.level}:${def.name}`], nowMs);
  };
  return new Set(groups.filter((g) => member(g.id)).map((g) => g.id));
}
