// fast-check arbitraries for criteria fuzzing: group definitions as a client sends them (names,
// levels and operators in any case, values as text or JSON numbers and booleans) over a catalogue,
// and facts of every type. Values come from small pools around boundaries (the same instant in
// another zone, ±1 ns, exactly N days ago, "" and case variants), where engines go wrong.
import fc from 'fast-check';
import type { Catalogue, FieldDefinition } from '#core/catalogue.ts';
import type { RefFacts } from './reference-criteria.ts';

const DAY_NS = 86_400_000_000_000n;

/** The same text in another case: as is, upper, lower, or every other letter swapped. */
const recase = (s: string, how: number): string => {
  if (how === 1) return s.toUpperCase();
  if (how === 2) return s.toLowerCase();
  if (how === 3) return [...s].map((c, i) => (i % 2 ? c.toUpperCase() : c.toLowerCase())).join('');
  return s;
};
const cased = (arb: fc.Arbitrary<string>) =>
  fc.tuple(arb, fc.integer({ min: 0, max: 3 })).map(([s, how]) => recase(s, how));

const PIECES = [
  'FAILED',
  'Not Available',
  'Key: Not Found',
  'All BitLocker keys are backed up successfully',
  'C:',
  'école',
  'straße',
  'İx',
  'Σς',
  ' ',
  '|',
  'acme',
  'LAPTOP-1',
  'Windows',
  'Server',
];
const textValue = fc.oneof(
  { arbitrary: cased(fc.constantFrom(...PIECES)), weight: 6 },
  { arbitrary: fc.constant(''), weight: 1 },
  { arbitrary: fc.string({ maxLength: 3 }), weight: 1 },
);
const textFact = fc.oneof(
  {
    arbitrary: fc.array(cased(fc.constantFrom(...PIECES)), { maxLength: 3 }).map((a) => a.join('')),
    weight: 6,
  },
  { arbitrary: fc.string({ maxLength: 4 }), weight: 1 },
);

export const NOW = Date.parse('2026-06-15T12:00:00.000Z');
const NOW_NS = BigInt(NOW) * 1_000_000n;
/** Day counts of the day operators, with their exact length in ns. */
const DAY_COUNTS: readonly [string, bigint][] = [
  ['0', 0n],
  ['1', DAY_NS],
  ['7', 7n * DAY_NS],
  ['0.5', DAY_NS / 2n],
  ['2.3', (23n * DAY_NS) / 10n],
  ['30', 30n * DAY_NS],
  ['1e1', 10n * DAY_NS],
  ['.25', DAY_NS / 4n],
  ['1.1', (11n * DAY_NS) / 10n],
];
const DAYS = DAY_COUNTS.map(([text]) => text);
/** Instants (ns) the criteria values and the facts share, so comparisons hit their boundaries. */
const BASES: readonly bigint[] = [
  NOW_NS,
  BigInt(Date.parse('2026-01-01T00:00:00Z')) * 1_000_000n,
  BigInt(Date.parse('2026-06-15T00:00:00Z')) * 1_000_000n,
  ...DAY_COUNTS.map(([, ns]) => NOW_NS - ns),
];
const DELTAS = [0n, 0n, 1n, -1n, 500n, 1_000_000n, -1_000_000n, 60_000_000_000n, -3_600_000_000_000n];

/** `ns` written in a zone `offset` minutes east, with `digits` fraction digits (more when needed). */
function isoOf(ns: bigint, offset: number, digits: number): string {
  const local = ns + BigInt(offset) * 60_000_000_000n;
  const seconds = local / 1_000_000_000n - (local % 1_000_000_000n < 0n ? 1n : 0n);
  const fraction = (local - seconds * 1_000_000_000n).toString().padStart(9, '0');
  const needed = fraction.replace(/0+$/, '').length;
  const shown = fraction.slice(0, Math.max(digits, needed));
  const head = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const abs = Math.abs(offset);
  const zone =
    offset === 0 && digits % 2 === 0
      ? 'Z'
      : `${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${head}${shown === '' ? '' : `.${shown}`}${zone}`;
}
const instant = fc
  .tuple(
    fc.constantFrom(...BASES),
    fc.oneof(fc.constantFrom(...DELTAS), fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n })),
    fc.constantFrom(0, 0, 60, -300, 330, 840, -720),
    fc.constantFrom(0, 3, 6, 9),
  )
  .map(([base, delta, offset, digits]) => isoOf(base + delta, offset, digits));
const dateValue = fc.oneof({ arbitrary: instant, weight: 5 }, fc.constantFrom('2026-01-01', '2026-06-15'));

const NUMBERS = ['0', '-1.5', '42', '1e3', '1000', '+7', '.5', '-0', '0.1', '3', '0.30000000000000004'];
const numberValue = fc.oneof(
  { arbitrary: fc.constantFrom(...NUMBERS), weight: 4 },
  fc.constantFrom(42, 0.1, -1.5),
);
const numberFact = fc.oneof(
  { arbitrary: fc.constantFrom(0, -0, 42, 1000, -1.5, 0.5, 7, 0.1, 0.30000000000000004, 3), weight: 4 },
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const flagValue = fc.constantFrom<string | boolean>('True', 'false', 'TRUE', true, false);

/** Text and Dropdown take the same operators. */
const TEXT_OPERATORS = [
  'Equal',
  'Not Equal',
  'Is Blank',
  'Contains any of',
  'Does Not Contain any of',
  'Contains all of',
  'Begins with',
  'Ends with',
] as const;

const OPERATORS: Record<FieldDefinition['type'], readonly string[]> = {
  Text: TEXT_OPERATORS,
  Dropdown: TEXT_OPERATORS,
  Flag: ['Equal', 'Not Equal', 'Is Blank'],
  Number: ['Equal', 'Not Equal', 'Is Blank', 'Greater than', 'Less than'],
  Date: [
    'Equal',
    'Not Equal',
    'Is Blank',
    'Greater than',
    'Less than',
    'Older than days',
    'Within last days',
  ],
};

function valuesFor(def: FieldDefinition, operator: string): fc.Arbitrary<unknown[]> {
  const some = (arb: fc.Arbitrary<unknown>) => fc.array(arb, { minLength: 1, maxLength: 3 });
  if (operator === 'Is Blank')
    return fc.tuple(fc.constantFrom<unknown>('True', 'False', 'true', true, false));
  if (operator.endsWith('days')) return fc.tuple(fc.constantFrom<unknown>(...DAYS));
  const typed = { Number: numberValue, Date: dateValue, Flag: flagValue } as const;
  if (operator === 'Greater than' || operator === 'Less than')
    return fc.tuple<unknown[]>(def.type === 'Number' ? typed.Number : typed.Date);
  if (operator === 'Equal' || operator === 'Not Equal') {
    if (def.type === 'Dropdown') return some(cased(fc.constantFrom(...(def.options ?? []))));
    if (def.type !== 'Text') return some(typed[def.type]);
  }
  return some(textValue);
}

/** One criterion on a catalogue field, spelled in any case, with values that fit its operator. */
function fieldLeaf(catalogue: Catalogue): fc.Arbitrary<Record<string, unknown>> {
  return fc.constantFrom(...catalogue.fields).chain((def) => {
    const ambiguous = catalogue.fields.filter((f) => f.name === def.name).length > 1;
    return fc.constantFrom(...OPERATORS[def.type]).chain((operator) =>
      fc
        .record({
          field: cased(fc.constant(def.name)),
          level: ambiguous
            ? cased(fc.constant(def.level))
            : fc.option(cased(fc.constant(def.level)), { nil: undefined }),
          operator: cased(fc.constant(operator)),
          values: valuesFor(def, operator),
        })
        .map(({ level, ...rest }) => (level === undefined ? rest : { ...rest, level })),
    );
  });
}

/** `Member of group` / `Not member of group` over some of `ids`, in any case. */
const groupLeaf = (ids: readonly string[]) =>
  fc.record({
    field: cased(fc.constant('Group')),
    operator: cased(fc.constantFrom('Member of group', 'Not member of group')),
    values: fc.array(cased(fc.constantFrom(...ids)), { minLength: 1, maxLength: 2 }),
  });

/** A definition (criteria tree or blocks) that may reference the groups `earlier` (so: acyclic). */
export function definitionArb(catalogue: Catalogue, earlier: readonly string[], name: string) {
  const leaf: fc.Arbitrary<unknown> =
    earlier.length === 0
      ? fieldLeaf(catalogue)
      : fc.oneof({ arbitrary: fieldLeaf(catalogue), weight: 4 }, groupLeaf(earlier));
  const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      leaf,
      fc.array(tie('tree'), { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
      fc.array(tie('tree'), { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
      tie('tree').map((not) => ({ not })),
    ),
  }));
  const blocks = fc.array(fc.array(leaf, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 });
  return fc.oneof(
    tree.map((criteria) => ({ name, criteria })),
    blocks.map((b) => ({ name, blocks: b })),
  );
}

/** Facts of every catalogue field keyed `<LEVEL>:<name>`: typed values, unset (absent) or "". */
export function factsArb(catalogue: Catalogue): fc.Arbitrary<RefFacts> {
  const factOf = (def: FieldDefinition): fc.Arbitrary<RefFacts[string]> => {
    // A list built-in: unset, empty, or a few texts.
    if (def.multiValued === true) return fc.option(fc.array(textFact, { maxLength: 3 }), { nil: undefined });
    switch (def.type) {
      case 'Flag':
        return fc.boolean(); // a Flag has a default, so it always has a value
      case 'Dropdown':
        return fc.option(fc.constantFrom(...(def.options ?? [])), { nil: undefined });
      case 'Number':
        return fc.option(numberFact, { nil: undefined });
      case 'Date':
        return fc.option(instant, { nil: undefined });
      case 'Text':
        return fc.option(textFact, { nil: undefined });
    }
  };
  const record: Record<string, fc.Arbitrary<RefFacts[string]>> = {};
  for (const def of catalogue.fields) record[`${def.level}:${def.name}`] = factOf(def);
  return fc
    .record(record)
    .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
}
