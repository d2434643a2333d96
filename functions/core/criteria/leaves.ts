// Compiles one criterion into a predicate closure. Everything that does not depend on the facts
// (lower-cased values, parsed numbers and instants, the fact key) is computed here, once.
import type { FieldDefinition } from '../catalogue.ts';
import type { Criterion, EvalContext, Facts, Predicate } from './types.ts';
import { parseInstant, parseNumber } from './values.ts';

const DAY_MS = 86_400_000;

/** Where a leaf reads its fact: the key, and the slot of its lower-cased text in the context. */
export interface LeafSource {
  readonly key: string;
  readonly slot: number;
}

/** Lower-cased text of a fact, computed at most once per evaluation and shared by every leaf. */
function lowerText(facts: Facts, ctx: EvalContext, key: string, slot: number): string {
  if (ctx.textGen[slot] === ctx.gen) return ctx.text[slot] as string;
  const v = facts[key];
  const s =
    v === undefined || v === null
      ? ''
      : typeof v === 'string'
        ? v.toLowerCase()
        : typeof v === 'boolean'
          ? v
            ? 'true'
            : 'false'
          : String(v).toLowerCase();
  ctx.text[slot] = s;
  ctx.textGen[slot] = ctx.gen;
  return s;
}

function isBlank(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseNumber(v) ?? Number.NaN;
  return Number.NaN;
}

function negate(p: Predicate): Predicate {
  return (f, c) => !p(f, c);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Case-insensitive whole-value equality against one value. Stored Dropdowns are canonical, so the
 * exact comparison usually decides; a length mismatch rules out a case variant when the value is
 * ASCII (only non-ASCII letters change length when lower-cased).
 */
function textEquals(key: string, value: string): Predicate {
  if (value === '') return (f) => isBlank(f[key]);
  const lower = value.toLowerCase();
  const length = value.length;
  const byLength = isAscii(lower);
  return (f) => {
    const v = f[key];
    if (v === value) return true;
    if (typeof v !== 'string') return v !== undefined && v !== null && String(v).toLowerCase() === lower;
    return (!byLength || v.length === length) && v.toLowerCase() === lower;
  };
}

function anyOf(predicates: readonly Predicate[]): Predicate {
  const [a, b] = predicates;
  if (predicates.length === 1 && a !== undefined) return a;
  if (predicates.length === 2 && a !== undefined && b !== undefined) return (f, c) => a(f, c) || b(f, c);
  return (f, c) => {
    for (let i = 0; i < predicates.length; i++) if ((predicates[i] as Predicate)(f, c)) return true;
    return false;
  };
}

type TextTest = (text: string, needle: string) => boolean;
const includes: TextTest = (t, n) => t.includes(n);
const startsWith: TextTest = (t, n) => t.startsWith(n);
const endsWith: TextTest = (t, n) => t.endsWith(n);

/** Text holds one (`every` false) or every (`every` true) of the needles, per `test`. */
function textTest(source: LeafSource, needles: readonly string[], test: TextTest, every: boolean): Predicate {
  const { key, slot } = source;
  const lower = needles.map((n) => n.toLowerCase());
  const [n0, n1] = lower;
  if (test === includes && !every && n0 !== undefined) {
    if (lower.length === 1) return (f, c) => lowerText(f, c, key, slot).includes(n0);
    if (lower.length === 2 && n1 !== undefined) {
      return (f, c) => {
        const s = lowerText(f, c, key, slot);
        return s.includes(n0) || s.includes(n1);
      };
    }
  }
  return (f, c) => {
    const s = lowerText(f, c, key, slot);
    for (let i = 0; i < lower.length; i++) {
      if (test(s, lower[i] as string) !== every) return !every;
    }
    return every;
  };
}

function flagEquals(key: string, values: readonly string[]): Predicate {
  const wantTrue = values.includes('True');
  const wantFalse = values.includes('False');
  if (wantTrue && wantFalse) return (f) => flagOf(f[key]) !== undefined;
  const want = wantTrue;
  return (f) => {
    const v = f[key];
    if (v === want) return true;
    return typeof v === 'string' && flagOf(v) === want;
  };
}

function flagOf(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const lower = v.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  return undefined;
}

/** A Date fact in epoch ms; remembers the last string it parsed, as most facts repeat. */
function instantReader(key: string): (f: Facts) => number {
  let lastText: string | undefined;
  let lastMs = Number.NaN;
  return (f) => {
    const v = f[key];
    if (typeof v !== 'string') return Number.NaN;
    if (v !== lastText) {
      lastText = v;
      lastMs = Date.parse(v);
    }
    return lastMs;
  };
}

function compare(read: (f: Facts) => number, operator: 'Greater than' | 'Less than', x: number): Predicate {
  return operator === 'Greater than' ? (f) => read(f) > x : (f) => read(f) < x;
}

function numberIn(read: (f: Facts) => number, xs: readonly number[]): Predicate {
  const [x0] = xs;
  if (xs.length === 1 && x0 !== undefined) return (f) => read(f) === x0;
  return (f) => xs.includes(read(f));
}

/**
 * The predicate of a field criterion (membership criteria are compiled by the caller). The criterion
 * must come from parseGroupDefinition: its operator fits the type and its values parse.
 */
export function compileFieldLeaf(def: FieldDefinition, leaf: Criterion, source: LeafSource): Predicate {
  const { key } = source;
  const values = leaf.values ?? [];
  const first = values[0] ?? '';
  switch (leaf.operator) {
    case 'Is Blank':
      return first === 'True' ? (f) => isBlank(f[key]) : (f) => !isBlank(f[key]);
    case 'Equal':
      return equal(def, values, source);
    case 'Not Equal':
      return negate(equal(def, values, source));
    case 'Contains any of':
      return textTest(source, values, includes, false);
    case 'Does Not Contain any of':
      return negate(textTest(source, values, includes, false));
    case 'Contains all of':
      return textTest(source, values, includes, true);
    case 'Begins with':
      return textTest(source, values, startsWith, false);
    case 'Ends with':
      return textTest(source, values, endsWith, false);
    case 'Greater than':
    case 'Less than':
      return def.type === 'Number'
        ? compare((f) => toNumber(f[key]), leaf.operator, parseNumber(first) ?? Number.NaN)
        : compare(instantReader(key), leaf.operator, parseInstant(first) ?? Number.NaN);
    case 'Older than days': {
      const read = instantReader(key);
      const span = (parseNumber(first) ?? Number.NaN) * DAY_MS;
      return (f, c) => c.now - read(f) > span;
    }
    case 'Within last days': {
      const read = instantReader(key);
      const span = (parseNumber(first) ?? Number.NaN) * DAY_MS;
      return (f, c) => c.now - read(f) <= span;
    }
    case 'Member of group':
    case 'Not member of group':
      throw new Error(`membership criterion on field "${def.name}"`);
  }
}

function equal(def: FieldDefinition, values: readonly string[], source: LeafSource): Predicate {
  const { key } = source;
  switch (def.type) {
    case 'Flag':
      return flagEquals(key, values);
    case 'Number':
      return numberIn(
        (f) => toNumber(f[key]),
        values.map((v) => parseNumber(v) ?? Number.NaN),
      );
    case 'Date':
      return numberIn(
        instantReader(key),
        values.map((v) => parseInstant(v) ?? Number.NaN),
      );
    case 'Text':
    case 'Dropdown':
      return anyOf(values.map((v) => textEquals(key, v)));
  }
}
