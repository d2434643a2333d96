// Turns criteria into JavaScript source, compiled once per group set into one function that evaluates
// every group in topological order. Generated code, like json-logic-engine's compiled rules, is what
// lets the engine run near a hand-written predicate (DESIGN §7 budget); a tree of closures ran at
// 0.6× of one.
//
// Injection safety: every text that comes from a definition (values, fact keys, group ids) enters the
// source only as a JSON.stringify string literal; numbers only after parsing to a finite number;
// group positions are integers we computed. Nothing else of the input reaches the source.
import type { FieldDefinition } from '../catalogue.ts';
import { dateOrInstantParts, type InstantParts, instantParts } from '../instant.ts';
import type { Criterion } from './types.ts';
import { parseDaySpan, parseNumber } from './values.ts';

/** Runtime helpers the generated code calls for the rarer, non-inlined cases. */
export const helpers = {
  /** Lower-cased text of a fact: empty when unset, `true`/`false` for a Flag. */
  low(v: unknown): string {
    if (typeof v === 'string') return v.toLowerCase();
    if (v === undefined || v === null) return '';
    return String(v).toLowerCase();
  },
  blank(v: unknown): boolean {
    return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
  },
  /** A multi-valued fact's elements, lower-cased: empty when unset. */
  lows(v: unknown): string[] {
    if (Array.isArray(v)) return v.map((e) => String(e).toLowerCase());
    if (v === undefined || v === null || v === '') return [];
    return [String(v).toLowerCase()];
  },
  /** Case-insensitive equality of a non-identical fact with a lower-cased value (length -1: unknown). */
  eqi(v: unknown, lower: string, length: number): boolean {
    if (typeof v === 'string') return (length < 0 || v.length === length) && v.toLowerCase() === lower;
    return v !== undefined && v !== null && String(v).toLowerCase() === lower;
  },
  /** A Flag as boolean; undefined when unset or not a flag value. */
  flag(v: unknown): boolean | undefined {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') {
      const lower = v.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
    }
    return undefined;
  },
  num(v: unknown): number {
    if (typeof v === 'number') return v;
    if (typeof v === 'string') return parseNumber(v) ?? Number.NaN;
    return Number.NaN;
  },
  /**
   * A reader of one key's Date facts that remembers the last string it parsed (facts repeat): `ms`
   * gives epoch milliseconds rounded down (NaN when unset), `sub` the nanoseconds beyond them. Both
   * together order instants to the nanosecond, as reports are; milliseconds alone would make two
   * instants less than a millisecond apart equal.
   */
  instantReader(): { ms(v: unknown): number; sub(v: unknown): number } {
    let lastText: string | undefined;
    let last: InstantParts | undefined;
    const read = (v: unknown): InstantParts | undefined => {
      if (typeof v !== 'string') return undefined;
      if (v !== lastText) {
        lastText = v;
        last = instantParts(v);
      }
      return last;
    };
    return { ms: (v) => read(v)?.ms ?? Number.NaN, sub: (v) => read(v)?.subNs ?? Number.NaN };
  },
  /** Whether instant (ms, sub) is after instant (otherMs, otherSub); false when either is NaN. */
  later(ms: number, sub: number, otherMs: number, otherSub: number): boolean {
    return ms > otherMs || (ms === otherMs && sub > otherSub);
  },
  /**
   * Whether an instant (ms rounded down, `sub` ns beyond) is older at `now` (whole ms) than a span of
   * `spanMs` ms and `spanNs` ns, exactly: age − span > 0, i.e. D whole milliseconds minus what the two
   * sub-millisecond parts (each in [0, 1 ms)) add up to.
   */
  olderThan(ms: number, sub: number, now: number, spanMs: number, spanNs: number): boolean {
    const d = now - ms - spanMs;
    if (d > 1) return true;
    return d === 1 && spanNs + sub < 1_000_000;
  },
};

const lit = (s: string): string => JSON.stringify(s);
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'NaN');

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

const or = (parts: readonly string[]): string =>
  parts.length === 1 ? (parts[0] as string) : `(${parts.join(' || ')})`;
const and = (parts: readonly string[]): string =>
  parts.length === 1 ? (parts[0] as string) : `(${parts.join(' && ')})`;

/** Names the generator allocates in the generated function for the set of groups it compiles. */
export interface CodeScope {
  /** A local holding the lower-cased text of a fact key, computed on first use per evaluation. */
  textVar(key: string): string;
  /** A reader created once per set that parses Date facts of a key (epoch ms, instant key). */
  instantVar(key: string): string;
  /** A local holding the lower-cased elements of a multi-valued fact key, computed on first use. */
  listVar(key: string): string;
}

/**
 * A criterion on a multi-valued built-in (a list of texts). A list without elements is an empty
 * field (the single-valued rules apply to ""); otherwise the criterion holds when it holds for one
 * element (`Contains all of`: each value is contained by some element; `Equal`: some element equals
 * some value), and the negated operators hold when the positive one holds for none.
 */
function listExpression(leaf: Criterion, key: string, scope: CodeScope): string {
  const fact = `f[${lit(key)}]`;
  const list = `(${scope.listVar(key)} ??= h.lows(${fact}))`;
  const values = (leaf.values ?? []).map((v) => v.toLowerCase());
  const hasEmpty = values.includes('');
  const some = (test: (v: string) => string, vs: readonly string[]) =>
    `${list}.some((s) => ${or(vs.map(test))})`;
  const includes = (v: string) => `s.includes(${lit(v)})`;
  /** The positive test: on an empty list, what it is on the empty text ("" holds for ""). */
  const positive = (nonEmpty: string, onEmpty: boolean) =>
    `(${list}.length === 0 ? ${onEmpty} : ${nonEmpty})`;
  const equals = positive(
    some((v) => `s === ${lit(v)}`, values),
    hasEmpty,
  );
  const contains = positive(some(includes, values), hasEmpty);
  switch (leaf.operator) {
    case 'Is Blank':
      return values[0] === 'true' ? `(${list}.length === 0)` : `(${list}.length !== 0)`;
    case 'Equal':
      return equals;
    case 'Not Equal':
      return `!${equals}`;
    case 'Contains any of':
      return contains;
    case 'Does Not Contain any of':
      return `!${contains}`;
    case 'Contains all of':
      return positive(
        and(values.map((v) => some(includes, [v]))),
        values.every((v) => v === ''),
      );
    case 'Begins with':
      return positive(
        some((v) => `s.startsWith(${lit(v)})`, values),
        hasEmpty,
      );
    case 'Ends with':
      return positive(
        some((v) => `s.endsWith(${lit(v)})`, values),
        hasEmpty,
      );
    default:
      throw new Error(`"${leaf.operator}" on the multi-valued field "${leaf.field}"`);
  }
}

/**
 * The JavaScript expression of a field criterion over `f` (facts) and `now`. The criterion comes
 * from parseGroupDefinition: its operator fits the type and its values parse. Semantics: DESIGN §2.
 */
export function fieldExpression(
  def: FieldDefinition,
  leaf: Criterion,
  key: string,
  scope: CodeScope,
): string {
  if (def.multiValued === true) return listExpression(leaf, key, scope);
  const fact = `f[${lit(key)}]`;
  const values = leaf.values ?? [];
  const first = values[0] ?? '';
  const text = (): string => `(${scope.textVar(key)} ??= h.low(${fact}))`;
  const textTests = (method: 'includes' | 'startsWith' | 'endsWith', join: typeof or): string => {
    const t = text();
    return join(values.map((v) => `${t}.${method}(${lit(v.toLowerCase())})`));
  };
  const instant = (): string => `${scope.instantVar(key)}.ms(${fact})`;
  const sub = (): string => `${scope.instantVar(key)}.sub(${fact})`;
  // A Date value's parts as literals; NaN if it does not parse (parseGroupDefinition refused it).
  const partsOf = (value: string): { ms: string; sub: string } => {
    const p = dateOrInstantParts(value);
    return { ms: num(p?.ms ?? Number.NaN), sub: num(p?.subNs ?? Number.NaN) };
  };
  const dateFact = { ms: instant, sub };
  switch (leaf.operator) {
    case 'Is Blank':
      return first === 'True' ? `h.blank(${fact})` : `!(h.blank(${fact}))`;
    case 'Equal':
      return equal(def, values, fact, dateFact, partsOf);
    case 'Not Equal':
      return `!(${equal(def, values, fact, dateFact, partsOf)})`;
    case 'Contains any of':
      return textTests('includes', or);
    case 'Does Not Contain any of':
      return `!(${textTests('includes', or)})`;
    case 'Contains all of':
      return textTests('includes', and);
    case 'Begins with':
      return textTests('startsWith', or);
    case 'Ends with':
      return textTests('endsWith', or);
    case 'Greater than':
    case 'Less than': {
      const sign = leaf.operator === 'Greater than' ? '>' : '<';
      return def.type === 'Number'
        ? `(h.num(${fact}) ${sign} ${num(parseNumber(first) ?? Number.NaN)})`
        : dateOrder(leaf.operator, dateFact, partsOf(first));
    }
    case 'Older than days':
    case 'Within last days': {
      const span = parseDaySpan(first);
      const older =
        span === undefined
          ? 'false'
          : `h.olderThan(${instant()}, ${sub()}, now, ${num(span.ms)}, ${num(span.ns)})`;
      // An unset fact is neither older nor within: its reading is NaN.
      return leaf.operator === 'Older than days' ? older : `(!${older} && ${instant()} === ${instant()})`;
    }
    case 'Member of group':
    case 'Not member of group':
      throw new Error(`membership criterion on field "${def.name}"`);
  }
}

function equal(
  def: FieldDefinition,
  values: readonly string[],
  fact: string,
  date: DateFact,
  partsOf: (value: string) => { ms: string; sub: string },
): string {
  switch (def.type) {
    case 'Flag': {
      const wantTrue = values.includes('True');
      const wantFalse = values.includes('False');
      if (wantTrue && wantFalse) return `(h.flag(${fact}) !== undefined)`;
      return `(${fact} === ${wantTrue} || h.flag(${fact}) === ${wantTrue})`;
    }
    case 'Number':
      return or(values.map((v) => `(h.num(${fact}) === ${num(parseNumber(v) ?? Number.NaN)})`));
    case 'Date':
      // The same instant to the nanosecond; an unset fact (NaN) equals none.
      return or(
        values.map((v) => {
          const p = partsOf(v);
          return `(${date.ms()} === ${p.ms} && ${date.sub()} === ${p.sub})`;
        }),
      );
    case 'Text':
    case 'Dropdown':
      // Stored Dropdowns are canonical, so the strict comparison usually decides; a length mismatch
      // rules out a case variant when the value is ASCII (only non-ASCII letters change length).
      return or(
        values.map((v) => {
          if (v === '') return `h.blank(${fact})`;
          const lower = v.toLowerCase();
          const length = isAscii(lower) ? v.length : -1;
          return `(${fact} === ${lit(v)} || h.eqi(${fact}, ${lit(lower)}, ${length}))`;
        }),
      );
  }
}

/** Expressions reading a Date fact: epoch ms rounded down, and the nanoseconds beyond. */
interface DateFact {
  readonly ms: () => string;
  readonly sub: () => string;
}

/** Greater than / Less than on a Date, to the nanosecond; false when the fact is unset. */
function dateOrder(
  operator: 'Greater than' | 'Less than',
  date: DateFact,
  value: { ms: string; sub: string },
) {
  return operator === 'Greater than'
    ? `h.later(${date.ms()}, ${date.sub()}, ${value.ms}, ${value.sub})`
    : `h.later(${value.ms}, ${value.sub}, ${date.ms()}, ${date.sub()})`;
}

/** Membership of any of the groups at these topological positions, as evaluated so far. */
export function memberExpression(positions: readonly number[]): string {
  return or(positions.map((i) => `(r[${Math.trunc(i)}] === 1)`));
}

export { and as andExpression, lit as literal, or as orExpression };
