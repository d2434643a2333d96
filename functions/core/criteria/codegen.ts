// Turns criteria into JavaScript source, compiled once per group set into one function that evaluates
// every group in topological order. Generated code, like json-logic-engine's compiled rules, is what
// lets the engine run near a hand-written predicate (DESIGN §7 budget); a tree of closures ran at
// 0.6× of one.
//
// Injection safety: every text that comes from a definition (values, fact keys, group ids) enters the
// source only as a JSON.stringify string literal; numbers only after parsing to a finite number;
// group positions are integers we computed. Nothing else of the input reaches the source.
import type { FieldDefinition } from '../catalogue.ts';
import { dateOrInstantKey, instantKey, parseIsoInstant } from '../instant.ts';
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
    return v === undefined || v === null || v === '';
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
  /** A Date fact reader in epoch ms that remembers the last string it parsed (facts repeat). */
  instantReader(): (v: unknown) => number {
    let lastText: string | undefined;
    let lastMs = Number.NaN;
    return (v) => {
      if (typeof v !== 'string') return Number.NaN;
      if (v !== lastText) {
        lastText = v;
        lastMs = parseIsoInstant(v) ?? Number.NaN;
      }
      return lastMs;
    };
  },
  /**
   * Whether an instant (epoch ms rounded down, and its instantKey for the nanoseconds) is older at
   * `now` (whole ms) than a span of `spanMs` ms and `spanNs` ns, exactly: age − span > 0, in whole
   * milliseconds D plus what the two sub-millisecond parts add (each in [0, 1 ms)).
   */
  olderThan(ms: number, key: string | undefined, now: number, spanMs: number, spanNs: number): boolean {
    const d = now - ms - spanMs;
    if (d > 1) return true;
    if (d !== 1 || key === undefined) return false;
    return spanNs + Number(key.slice(23, 29)) < 1_000_000;
  },
  /**
   * A Date fact reader giving its instantKey (undefined when unset), remembering the last string it
   * read. Keys order instants to the nanosecond, as reports are; epoch milliseconds would make two
   * instants less than a millisecond apart equal.
   */
  instantKeyReader(): (v: unknown) => string | undefined {
    let lastText: string | undefined;
    let lastKey: string | undefined;
    return (v) => {
      if (typeof v !== 'string') return undefined;
      if (v !== lastText) {
        lastText = v;
        lastKey = instantKey(v);
      }
      return lastKey;
    };
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
  /** A reader created once per set that parses Date facts of a key into epoch ms. */
  instantVar(key: string): string;
  /** A reader created once per set that turns Date facts of a key into instant keys. */
  instantKeyVar(key: string): string;
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
  const fact = `f[${lit(key)}]`;
  const values = leaf.values ?? [];
  const first = values[0] ?? '';
  const text = (): string => `(${scope.textVar(key)} ??= h.low(${fact}))`;
  const textTests = (method: 'includes' | 'startsWith' | 'endsWith', join: typeof or): string => {
    const t = text();
    return join(values.map((v) => `${t}.${method}(${lit(v.toLowerCase())})`));
  };
  const instant = (): string => `${scope.instantVar(key)}(${fact})`;
  // A Date value as an instant key literal; `null` if it does not parse (parseGroupDefinition has
  // refused it), which no key, nor an unset fact's undefined, equals or orders against.
  const keyOf = (value: string): string => {
    const k = dateOrInstantKey(value);
    return k === undefined ? 'null' : lit(k);
  };
  const factKey = (): string => `${scope.instantKeyVar(key)}(${fact})`;
  switch (leaf.operator) {
    case 'Is Blank':
      return first === 'True' ? `h.blank(${fact})` : `!(h.blank(${fact}))`;
    case 'Equal':
      return equal(def, values, fact, factKey, keyOf);
    case 'Not Equal':
      return `!(${equal(def, values, fact, factKey, keyOf)})`;
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
        : `(${factKey()} ${sign} ${keyOf(first)})`;
    }
    case 'Older than days':
    case 'Within last days': {
      const span = parseDaySpan(first);
      const older =
        span === undefined
          ? 'false'
          : `h.olderThan(${instant()}, ${factKey()}, now, ${num(span.ms)}, ${num(span.ns)})`;
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
  factKey: () => string,
  keyOf: (value: string) => string,
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
      // Keys are strings of one length: === and the order operators compare instants exactly, and an
      // unset fact (undefined) compares false with every key.
      return or(values.map((v) => `(${factKey()} === ${keyOf(v)})`));
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

/** Membership of any of the groups at these topological positions, as evaluated so far. */
export function memberExpression(positions: readonly number[]): string {
  return or(positions.map((i) => `(r[${Math.trunc(i)}] === 1)`));
}

export { and as andExpression, lit as literal, or as orExpression };
