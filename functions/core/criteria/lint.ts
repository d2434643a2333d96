// Lint of a valid group definition: what validation lets through but is almost surely a mistake, the
// way RMM groups fail silently (the documented "BitLocker Key Missing" looks for a value the script
// never writes; a substring on a Dropdown pulls in options nobody meant). Never blocks a save: each
// warning says what, where (the path in the definition) and how to fix it.
import type { Catalogue, FieldDefinition } from '../catalogue.ts';
import { criteriaOf } from './parse.ts';
import {
  type CriteriaNode,
  type Criterion,
  GROUP_FIELD,
  type GroupDefinition,
  type Operator,
} from './types.ts';
import { parseNumber } from './values.ts';

export type LintRule =
  | 'unwritten-value'
  | 'dropdown-substring'
  | 'excludes-every-option'
  | 'never-true'
  | 'always-true'
  | 'flag-substring'
  | 'duplicate';

export interface LintWarning {
  readonly rule: LintRule;
  readonly path: string;
  readonly message: string;
  readonly fix: string;
}

const SUBSTRING: ReadonlySet<Operator> = new Set([
  'Contains any of',
  'Does Not Contain any of',
  'Contains all of',
  'Begins with',
  'Ends with',
]);
const FLAG_WORDS = new Set(['true', 'false', 'yes', 'no', '1', '0', 'on', 'off', 'checked', 'unchecked']);

/** How a text value matches under a substring operator (case ignored, as the engine compares). */
function textTest(operator: Operator): (text: string, value: string) => boolean {
  if (operator === 'Begins with') return (t, v) => t.toLowerCase().startsWith(v.toLowerCase());
  if (operator === 'Ends with') return (t, v) => t.toLowerCase().endsWith(v.toLowerCase());
  if (operator === 'Equal' || operator === 'Not Equal') return (t, v) => t.toLowerCase() === v.toLowerCase();
  return (t, v) => t.toLowerCase().includes(v.toLowerCase());
}

const quoted = (xs: readonly string[]) => xs.map((x) => `"${x}"`).join(', ');

/** What a node can be, from types, options and written values alone. */
interface Verdict {
  readonly never: boolean;
  readonly always: boolean;
}
const OPEN: Verdict = { never: false, always: false };

export function lintGroup(definition: GroupDefinition, catalogue: Catalogue): LintWarning[] {
  const warnings: LintWarning[] = [];
  const warn = (rule: LintRule, path: string, message: string, fix: string) =>
    warnings.push({ rule, path, message, fix });
  const fieldOf = (leaf: Criterion): FieldDefinition | undefined => {
    const named = catalogue.fields.filter((f) => f.name === leaf.field);
    return leaf.level === undefined ? named[0] : named.find((f) => f.level === leaf.level);
  };

  /** One leaf: its own warnings, and whether it can never / always hold. */
  function leafVerdict(leaf: Criterion, path: string): Verdict {
    if (leaf.field === GROUP_FIELD) return OPEN;
    const def = fieldOf(leaf);
    if (def === undefined) return OPEN;
    const values = leaf.values ?? [];
    const op = leaf.operator;
    const name = `"${def.name}"${leaf.level === undefined ? '' : ` (${leaf.level})`}`;

    if (op === 'Is Blank' && def.default !== undefined) {
      const blank = values[0] === 'True';
      warn(
        blank ? 'never-true' : 'always-true',
        path,
        `${name} has a default (${String(def.default)}), so it is never blank: this is ${blank ? 'never' : 'always'} true`,
        blank ? 'compare with the default value instead, or remove the criterion' : 'remove the criterion',
      );
      return blank ? { never: true, always: false } : { never: false, always: true };
    }
    if (def.type === 'Flag' && (op === 'Equal' || op === 'Not Equal') && new Set(values).size === 2) {
      const always = op === 'Equal' && def.default !== undefined;
      warn(
        op === 'Equal' ? 'always-true' : 'never-true',
        path,
        `${name} is compared with both True and False: ${op === 'Equal' ? (always ? 'always true' : 'true whenever it is set') : 'true only when it is unset'}`,
        'keep the one value you mean',
      );
      return op === 'Equal' ? { never: false, always } : OPEN;
    }

    // Flags written as text: a substring on "True" also matches "Untrue", and what is meant is Equal.
    const texts = def.type === 'Dropdown' ? (def.options ?? []) : (def.writtenValues ?? []);
    if (SUBSTRING.has(op) && texts.length > 0 && texts.every((t) => FLAG_WORDS.has(t.trim().toLowerCase()))) {
      warn(
        'flag-substring',
        path,
        `${name} holds flag values (${quoted(texts)}) but is compared by substring ("${op}")`,
        'use "Equal" with the exact value, or make the field a Flag',
      );
    }

    if (def.type === 'Dropdown' && SUBSTRING.has(op)) return dropdownSubstring(def, leaf, path, name);
    if (def.writtenValues !== undefined && (def.type === 'Text' || def.type === 'Dropdown')) {
      return writtenOnly(def, leaf, path, name);
    }
    if (
      def.type === 'Dropdown' &&
      op === 'Not Equal' &&
      (def.options ?? []).every((o) => values.includes(o))
    ) {
      warn(
        'never-true',
        path,
        `"Not Equal" lists every option of ${name}: true only while the field is empty`,
        'use "Is Blank" True if that is what is meant',
      );
    }
    return OPEN;
  }

  function dropdownSubstring(def: FieldDefinition, leaf: Criterion, path: string, name: string): Verdict {
    const options = def.options ?? [];
    const values = leaf.values ?? [];
    const test = textTest(leaf.operator);
    const listed = new Set(values.map((v) => v.toLowerCase()));
    const matchedBy = values.map((v) => options.filter((o) => test(o, v)));
    const union = new Set(matchedBy.flat());
    values.forEach((v, i) => {
      const matched = matchedBy[i] ?? [];
      if (matched.length === 0) {
        warn(
          'dropdown-substring',
          `${path}.values[${i}]`,
          `"${v}" matches no option of ${name} (${quoted(options)})`,
          `use one of the options${closest(v, options)}`,
        );
      } else if (leaf.operator !== 'Contains all of') {
        const unmeant = matched.filter((o) => !listed.has(o.toLowerCase()));
        if (matched.length > 1 && unmeant.length > 0) {
          warn(
            'dropdown-substring',
            `${path}.values[${i}]`,
            `"${v}" (${leaf.operator}) matches ${matched.length} options of ${name}: ${quoted(matched)}`,
            `use "Equal" with the options you mean (${quoted(matched)})`,
          );
        }
      }
    });
    if (leaf.operator === 'Does Not Contain any of') {
      if (options.length > 0 && options.every((o) => union.has(o))) {
        warn(
          'excludes-every-option',
          path,
          `"Does Not Contain any of" ${quoted(values)} excludes every option of ${name}: true only while it is empty`,
          'list fewer values, or use "Is Blank" True if that is what is meant',
        );
        return { never: def.default !== undefined, always: false };
      }
      return { never: false, always: union.size === 0 };
    }
    if (leaf.operator === 'Contains all of') {
      const all = options.some((o) => values.every((v) => test(o, v)));
      if (!all) {
        warn(
          'never-true',
          path,
          `no option of ${name} contains all of ${quoted(values)}`,
          'use "Contains any of"',
        );
      }
      return { never: !all, always: false };
    }
    return { never: union.size === 0, always: false };
  }

  function writtenOnly(def: FieldDefinition, leaf: Criterion, path: string, name: string): Verdict {
    const written = def.writtenValues ?? [];
    const values = leaf.values ?? [];
    const op = leaf.operator;
    if (!SUBSTRING.has(op) && op !== 'Equal') return OPEN;
    const test = textTest(op);
    if (op === 'Does Not Contain any of') {
      const excluded = written.filter((w) => values.some((v) => test(w, v)));
      if (excluded.length === written.length) {
        warn(
          'excludes-every-option',
          path,
          `every value written to ${name} contains one of ${quoted(values)}: true only while it is empty`,
          'list fewer values',
        );
      }
      return OPEN;
    }
    if (op === 'Contains all of') {
      const can = written.some((w) => values.every((v) => test(w, v)));
      if (!can) {
        warn(
          'unwritten-value',
          path,
          `no value written to ${name} contains all of ${quoted(values)}`,
          'use "Contains any of", or values from the documented outputs',
        );
      }
      return { never: !can, always: false };
    }
    let producible = 0;
    values.forEach((v, i) => {
      if (written.some((w) => test(w, v))) producible++;
      else {
        warn(
          'unwritten-value',
          `${path}.values[${i}]`,
          `no writer of ${name} produces a value ${op === 'Equal' ? 'equal to' : 'matching'} "${v}" (${op})`,
          `match what is written: ${quoted(written.slice(0, 6))}${written.length > 6 ? ', …' : ''}`,
        );
      }
    });
    if (producible === 0 && values.length > 1) {
      warn(
        'never-true',
        path,
        `none of the values of this criterion is ever written to ${name}`,
        'see above',
      );
    }
    return { never: producible === 0, always: false };
  }

  /** Leaves of one AND: duplicates and contradictions on the same field. */
  function conjunction(leaves: readonly { leaf: Criterion; path: string }[], path: string): boolean {
    const seen = new Map<string, string>();
    for (const { leaf, path: at } of leaves) {
      const key = JSON.stringify([
        leaf.field.toLowerCase(),
        leaf.level ?? '',
        leaf.operator,
        [...(leaf.values ?? [])].map((v) => v.toLowerCase()).sort(),
      ]);
      const first = seen.get(key);
      if (first !== undefined)
        warn('duplicate', at, `repeats the criterion at ${first}`, 'remove one of them');
      else seen.set(key, at);
    }
    let contradiction = false;
    const byField = new Map<string, { leaf: Criterion; path: string }[]>();
    for (const l of leaves) {
      if (l.leaf.field === GROUP_FIELD) continue;
      const def = fieldOf(l.leaf);
      if (def === undefined || def.multiValued === true) continue;
      const k = `${def.level}:${def.name}`;
      const list = byField.get(k);
      if (list === undefined) byField.set(k, [l]);
      else list.push(l);
    }
    for (const [field, ls] of byField) {
      const equals = ls.filter((l) => l.leaf.operator === 'Equal');
      const def = fieldOf((ls[0] as { leaf: Criterion }).leaf) as FieldDefinition;
      const eqSets = equals.map((l) => new Set((l.leaf.values ?? []).map((v) => v.toLowerCase())));
      let allowed: Set<string> | undefined;
      for (const set of eqSets) {
        const before: Set<string> | undefined = allowed;
        allowed = before === undefined ? set : new Set([...before].filter((v) => set.has(v)));
      }
      const excluded = ls
        .filter((l) => l.leaf.operator === 'Not Equal')
        .flatMap((l) => (l.leaf.values ?? []).map((v) => v.toLowerCase()));
      const textual = def.type === 'Text' || def.type === 'Dropdown' || def.type === 'Flag';
      const empty =
        allowed !== undefined && textual && [...allowed].filter((v) => !excluded.includes(v)).length === 0;
      const blank = ls.some((l) => l.leaf.operator === 'Is Blank' && l.leaf.values?.[0] === 'True');
      const valued = ls.some(
        (l) =>
          l.leaf.operator !== 'Is Blank' &&
          l.leaf.operator !== 'Not Equal' &&
          !l.leaf.operator.startsWith('Does'),
      );
      const range = numericRange(ls);
      if (empty || (blank && valued) || range) {
        contradiction = true;
        warn(
          'never-true',
          path,
          `the criteria on ${field} here contradict each other (${ls.map((l) => l.path).join(', ')}): never true together`,
          'fix the values, or move one of them to another block (OR)',
        );
      }
    }
    return contradiction;
  }

  /** Whole node: warnings of its parts, and what it can be. */
  function node(n: CriteriaNode, path: string): Verdict {
    if ('all' in n) {
      const children = n.all.map((c, i) => node(c, `${path}.all[${i}]`));
      const leaves = n.all
        .map((c, i) => ({ c, at: `${path}.all[${i}]` }))
        .filter((x): x is { c: Criterion; at: string } => !('all' in x.c || 'any' in x.c || 'not' in x.c))
        .map((x) => ({ leaf: x.c, path: x.at }));
      const contradiction = conjunction(leaves, path);
      return {
        never: contradiction || children.some((v) => v.never),
        always: children.every((v) => v.always),
      };
    }
    if ('any' in n) {
      const children = n.any.map((c, i) => node(c, `${path}.any[${i}]`));
      return { never: children.every((v) => v.never), always: children.some((v) => v.always) };
    }
    if ('not' in n) {
      const inner = node(n.not, `${path}.not`);
      return { never: inner.always, always: inner.never };
    }
    return leafVerdict(n, path);
  }

  let verdict: Verdict;
  let where: string;
  if (definition.blocks !== undefined) {
    where = 'blocks';
    const blocks = definition.blocks.map((block, i) => {
      const parts = block.map((leaf, j) => leafVerdict(leaf, `blocks[${i}][${j}]`));
      const contradiction = conjunction(
        block.map((leaf, j) => ({ leaf, path: `blocks[${i}][${j}]` })),
        `blocks[${i}]`,
      );
      return { never: contradiction || parts.some((v) => v.never), always: parts.every((v) => v.always) };
    });
    const seen = new Map<string, number>();
    definition.blocks.forEach((block, i) => {
      const key = JSON.stringify([...block.map((l) => JSON.stringify(l))].sort());
      const first = seen.get(key);
      if (first !== undefined)
        warn('duplicate', `blocks[${i}]`, `repeats blocks[${first}]`, 'remove one of them');
      else seen.set(key, i);
    });
    verdict = { never: blocks.every((b) => b.never), always: blocks.some((b) => b.always) };
  } else {
    where = 'criteria';
    verdict = node(criteriaOf(definition), 'criteria');
  }
  if (verdict.never) {
    warn('never-true', where, 'this group can never have a member', 'see the other warnings for why');
  } else if (verdict.always) {
    warn('always-true', where, 'every endpoint is a member of this group', 'see the other warnings for why');
  }
  return warnings;
}

/** A Greater than / Less than pair on one Number field that no value satisfies. */
function numericRange(ls: readonly { leaf: Criterion }[]): boolean {
  let low = Number.NEGATIVE_INFINITY;
  let high = Number.POSITIVE_INFINITY;
  for (const { leaf } of ls) {
    const n = parseNumber(leaf.values?.[0] ?? '');
    if (n === undefined) continue;
    if (leaf.operator === 'Greater than') low = Math.max(low, n);
    if (leaf.operator === 'Less than') high = Math.min(high, n);
  }
  return low >= high;
}

/** ` (did you mean "X"?)` for the option sharing the longest piece with the value, if any. */
function closest(value: string, options: readonly string[]): string {
  const v = value.toLowerCase();
  let best: { option: string; score: number } | undefined;
  for (const o of options) {
    const words = v.split(/\W+/).filter((w) => w.length > 2 && o.toLowerCase().includes(w));
    const score = words.join('').length;
    if (score > 0 && (best === undefined || score > best.score)) best = { option: o, score };
  }
  return best === undefined ? '' : ` (did you mean "${best.option}"?)`;
}
