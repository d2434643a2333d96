import { describe, expect, it } from 'vitest';
import { defineCatalogue } from '#core/catalogue.ts';
import { parseGroupDefinition } from '#core/criteria/index.ts';
import { ValidationError } from '#core/errors.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';

const FIELDS = defineCatalogue([
  ...SHIPPED_CATALOGUE.fields,
  { name: 'Battery Health', level: 'ENDPOINT', type: 'Number' },
]);

const failedLeaf = { field: 'BitLocker Key Backup Status', operator: 'Contains any of', values: ['FAILED'] };

/** The `{ path, message }` details of the ValidationError that parsing `input` throws. */
function problems(input: unknown, id = 'g'): { path: string; message: string }[] {
  try {
    parseGroupDefinition(id, input, FIELDS);
  } catch (e: unknown) {
    if (e instanceof ValidationError) return e.details.map((d) => ({ ...d }));
    throw e;
  }
  throw new Error('expected a ValidationError');
}

function pathsOf(input: unknown, id = 'g'): string[] {
  return problems(input, id).map((p) => p.path);
}

/** A definition whose criteria is one leaf. */
const withLeaf = (leaf: unknown): unknown => ({ name: 'G', criteria: leaf });

describe('parseGroupDefinition: canonical form', () => {
  it('keeps the criteria tree and spells fields, levels, operators, options and flags canonically', () => {
    // Prepare
    const input = {
      name: 'Windows, site not disabled',
      criteria: {
        all: [
          { field: 'os type', operator: 'EQUAL', values: ['windows'] },
          { field: 'disable bitlocker key backup', level: 'site', operator: 'equal', values: [false] },
          { not: { field: 'Hostname', operator: 'begins WITH', values: ['Lab-'] } },
        ],
      },
      alert: { on: ['ENTER', 'enter', 'exit'], severity: 'HIGH' },
    };

    // Act
    const def = parseGroupDefinition('windows-on', input, SHIPPED_CATALOGUE);

    // Assess
    expect(def).toEqual({
      id: 'windows-on',
      name: 'Windows, site not disabled',
      criteria: {
        all: [
          { field: 'OS Type', operator: 'Equal', values: ['Windows'] },
          { field: 'Disable BitLocker Key Backup', level: 'SITE', operator: 'Equal', values: ['False'] },
          { not: { field: 'Hostname', operator: 'Begins with', values: ['Lab-'] } },
        ],
      },
      alert: { on: ['enter', 'exit'], severity: 'high' },
    });
  });

  it('keeps the RMM blocks shape and the description, and leaves a level out when it was left out', () => {
    // Prepare
    const input = { id: 'G', name: 'Failed', description: 'why', blocks: [[failedLeaf]] };

    // Act
    const def = parseGroupDefinition('g', input, SHIPPED_CATALOGUE);

    // Assess
    expect(def).toEqual({ id: 'g', name: 'Failed', description: 'why', blocks: [[failedLeaf]] });
  });

  it('stores numbers and booleans in values as text', () => {
    // Prepare
    const input = withLeaf({ field: 'Battery Health', operator: 'Greater than', values: [42] });

    // Act
    const def = parseGroupDefinition('g', input, FIELDS);

    // Assess
    expect(def.criteria).toEqual({ field: 'Battery Health', operator: 'Greater than', values: ['42'] });
  });

  it('accepts an empty alert policy without severity, and no alert at all', () => {
    // Act
    const quiet = parseGroupDefinition(
      'g',
      { name: 'G', criteria: failedLeaf, alert: { on: [] } },
      SHIPPED_CATALOGUE,
    );
    const none = parseGroupDefinition(
      'g',
      { name: 'G', criteria: failedLeaf, alert: null },
      SHIPPED_CATALOGUE,
    );

    // Assess
    expect(quiet.alert).toEqual({ on: [] });
    expect(none.alert).toBeUndefined();
  });
});

describe('parseGroupDefinition: id, name and shape', () => {
  it.each([['a/b'], ['a?b'], ['a#b'], ['a b'], [''], ['x'.repeat(129)]])('rejects the id %j', (id) => {
    // Act / Assess
    expect(pathsOf({ name: 'G', criteria: failedLeaf }, id)).toEqual(['id']);
  });

  it('accepts an id of 128 characters', () => {
    // Act
    const def = parseGroupDefinition('x'.repeat(128), { name: 'G', criteria: failedLeaf }, SHIPPED_CATALOGUE);

    // Assess
    expect(def.id).toHaveLength(128);
  });

  it('rejects a body id that differs from the path id', () => {
    // Act / Assess
    expect(problems({ id: 'other', name: 'G', criteria: failedLeaf })).toEqual([
      { path: 'id', message: 'must equal the id in the path ("g")' },
    ]);
  });

  it.each([[undefined], [''], ['   '], [42]])('requires a non-empty name, not %j', (name) => {
    // Act / Assess
    expect(pathsOf({ name, criteria: failedLeaf })).toEqual(['name']);
  });

  it('rejects a body that is not an object', () => {
    // Act / Assess
    expect(pathsOf([1, 2])).toEqual(['(body)']);
  });

  it('rejects unknown top-level properties, so a typo cannot drop the alert, but takes back what GET adds', () => {
    expect(pathsOf({ name: 'G', criteria: failedLeaf, alerts: { on: ['enter'], severity: 'high' } })).toEqual(
      ['alerts'],
    );
    const readBack = { name: 'G', criteria: failedLeaf, updatedAt: '2026-01-01T00:00:00Z', memberCount: 3 };
    expect(parseGroupDefinition('g', readBack, FIELDS)).not.toHaveProperty('updatedAt');
  });

  it('requires criteria or blocks, and not both', () => {
    // Act / Assess
    expect(pathsOf({ name: 'G' })).toEqual(['criteria']);
    expect(pathsOf({ name: 'G', criteria: failedLeaf, blocks: [[failedLeaf]] })).toEqual(['criteria']);
  });

  it('reports every problem at once', () => {
    // Act / Assess
    expect(pathsOf({ name: '', criteria: { all: [] }, alert: { on: ['enter'] } })).toEqual([
      'name',
      'criteria.all',
      'alert.severity',
    ]);
  });
});

describe('parseGroupDefinition: tree and blocks', () => {
  it('rejects empty all and any', () => {
    // Act / Assess
    expect(pathsOf(withLeaf({ all: [] }))).toEqual(['criteria.all']);
    expect(pathsOf(withLeaf({ all: [failedLeaf, { any: [] }] }))).toEqual(['criteria.all[1].any']);
  });

  it('rejects empty blocks and an empty block', () => {
    // Act / Assess
    expect(pathsOf({ name: 'G', blocks: [] })).toEqual(['blocks']);
    expect(pathsOf({ name: 'G', blocks: [[failedLeaf], []] })).toEqual(['blocks[1]']);
  });

  it('rejects a node with two combinators and a node that is not an object', () => {
    // Act / Assess
    expect(pathsOf(withLeaf({ all: [failedLeaf], any: [failedLeaf] }))).toEqual(['criteria']);
    expect(pathsOf(withLeaf({ not: 'x' }))).toEqual(['criteria.not']);
  });

  it('rejects unknown properties of a criterion', () => {
    // Act / Assess
    expect(pathsOf(withLeaf({ ...failedLeaf, value: 'x' }))).toEqual(['criteria.value']);
  });
});

describe('parseGroupDefinition: fields and levels', () => {
  it('rejects an unknown field', () => {
    // Act / Assess
    expect(
      problems(withLeaf({ all: [failedLeaf, { field: 'Colour', operator: 'Equal', values: ['x'] }] })),
    ).toEqual([{ path: 'criteria.all[1].field', message: 'unknown field "Colour"' }]);
  });

  it('requires a level for the ambiguous Disable flags', () => {
    // Prepare
    const leaf = { field: 'Disable BitLocker Key Backup', operator: 'Equal', values: ['False'] };

    // Act
    const found = problems({ name: 'G', blocks: [[failedLeaf], [failedLeaf, leaf]] });

    // Assess
    expect(found).toEqual([
      {
        path: 'blocks[1][1].level',
        message: '"Disable BitLocker Key Backup" exists at SITE and ENDPOINT: give "level" to pick one',
      },
    ]);
  });

  it('rejects a level the field does not exist at, and an unknown level', () => {
    // Act / Assess
    expect(pathsOf(withLeaf({ field: 'Hostname', level: 'SITE', operator: 'Equal', values: ['x'] }))).toEqual(
      ['criteria.level'],
    );
    expect(
      pathsOf(withLeaf({ field: 'Hostname', level: 'REGION', operator: 'Equal', values: ['x'] })),
    ).toEqual(['criteria.level']);
  });

  it('rejects a level on the Group pseudo-field', () => {
    // Act / Assess
    expect(
      pathsOf(withLeaf({ field: 'Group', level: 'ENDPOINT', operator: 'Member of group', values: ['a'] })),
    ).toEqual(['criteria.level']);
  });
});

describe('parseGroupDefinition: operators', () => {
  it('rejects an unknown or missing operator', () => {
    // Act / Assess
    expect(problems({ name: 'G', blocks: [[failedLeaf], [{ ...failedLeaf, operator: 'Like' }]] })).toEqual([
      { path: 'blocks[1][0].operator', message: 'unknown operator "Like"' },
    ]);
    expect(pathsOf(withLeaf({ field: 'Hostname', values: ['x'] }))).toEqual(['criteria.operator']);
  });

  it.each([
    ['Greater than', 'Hostname', 'Text'],
    ['Less than', 'OS Type', 'Dropdown'],
    ['Older than days', 'Battery Health', 'Number'],
    ['Within last days', 'BitLocker Key Backup Status', 'Text'],
    ['Contains any of', 'Last Report', 'Date'],
    ['Begins with', 'Battery Health', 'Number'],
    ['Member of group', 'Hostname', 'Text'],
  ])('rejects %s on %s (%s)', (operator, field, type) => {
    // Act
    const found = problems(withLeaf({ field, operator, values: ['1'] }));

    // Assess
    expect(found).toHaveLength(1);
    expect(found[0]?.path).toBe('criteria.operator');
    expect(found[0]?.message).toContain(`a ${type} field`);
  });

  it('rejects a Flag with a substring operator', () => {
    // Act / Assess
    expect(
      pathsOf(
        withLeaf({
          field: 'Disable BitLocker Key Backup',
          level: 'SITE',
          operator: 'Contains any of',
          values: ['t'],
        }),
      ),
    ).toEqual(['criteria.operator']);
  });

  it('accepts Equal, Not Equal and Is Blank on every type', () => {
    // Prepare
    const leaves = [
      { field: 'Hostname', operator: 'Equal', values: ['x'] },
      { field: 'OS Type', operator: 'Not Equal', values: ['macOS'] },
      { field: 'Disable BitLocker Key Backup', level: 'ENDPOINT', operator: 'Equal', values: ['True'] },
      { field: 'Battery Health', operator: 'Not Equal', values: ['3.5'] },
      { field: 'Last Report', operator: 'Equal', values: ['2025-01-01T00:00:00Z'] },
      { field: 'Last Report', operator: 'Is Blank', values: ['True'] },
    ];

    // Act / Assess
    expect(() => parseGroupDefinition('g', withLeaf({ all: leaves }), FIELDS)).not.toThrow();
  });

  it('takes only membership operators on Group', () => {
    // Act / Assess
    expect(pathsOf(withLeaf({ field: 'Group', operator: 'Equal', values: ['a'] }))).toEqual([
      'criteria.operator',
    ]);
  });
});

describe('parseGroupDefinition: values', () => {
  it('rejects a Dropdown value outside the options for Equal, but any text for Contains any of', () => {
    // Act
    const found = problems(withLeaf({ field: 'OS Type', operator: 'Equal', values: ['Windows', 'BeOS'] }));
    const contains = () =>
      parseGroupDefinition(
        'g',
        withLeaf({ field: 'OS Type', operator: 'Contains any of', values: ['dow'] }),
        SHIPPED_CATALOGUE,
      );

    // Assess
    expect(found).toEqual([
      { path: 'criteria.values[1]', message: '"BeOS" is not an option of "OS Type": Windows, macOS, Linux' },
    ]);
    expect(contains).not.toThrow();
  });

  it('requires values, as an array with at least one entry', () => {
    // Act / Assess
    expect(pathsOf(withLeaf({ field: 'Hostname', operator: 'Equal' }))).toEqual(['criteria.values']);
    expect(pathsOf(withLeaf({ field: 'Hostname', operator: 'Equal', values: 'x' }))).toEqual([
      'criteria.values',
    ]);
    expect(pathsOf(withLeaf({ field: 'Hostname', operator: 'Contains any of', values: [] }))).toEqual([
      'criteria.values',
    ]);
  });

  it('rejects values that are neither strings, numbers nor booleans', () => {
    // Act / Assess
    expect(pathsOf(withLeaf({ field: 'Hostname', operator: 'Equal', values: ['x', null, {}] }))).toEqual([
      'criteria.values[1]',
      'criteria.values[2]',
    ]);
  });

  it('takes exactly True or False for Is Blank, ignoring case', () => {
    // Act
    const def = parseGroupDefinition(
      'g',
      withLeaf({ field: 'Hostname', operator: 'Is Blank', values: ['true'] }),
      SHIPPED_CATALOGUE,
    );

    // Assess
    expect(def.criteria).toEqual({ field: 'Hostname', operator: 'Is Blank', values: ['True'] });
    expect(pathsOf(withLeaf({ field: 'Hostname', operator: 'Is Blank', values: ['maybe'] }))).toEqual([
      'criteria.values[0]',
    ]);
    expect(pathsOf(withLeaf({ field: 'Hostname', operator: 'Is Blank', values: ['True', 'False'] }))).toEqual(
      ['criteria.values'],
    );
    expect(pathsOf(withLeaf({ field: 'Hostname', operator: 'Is Blank' }))).toEqual(['criteria.values']);
  });

  it('takes True or False for a Flag Equal', () => {
    // Act / Assess
    expect(
      pathsOf(
        withLeaf({
          field: 'Disable BitLocker Key Backup',
          level: 'SITE',
          operator: 'Equal',
          values: ['yes'],
        }),
      ),
    ).toEqual(['criteria.values[0]']);
  });

  it('takes exactly one number for Greater than on a Number', () => {
    // Act / Assess
    expect(
      pathsOf(withLeaf({ field: 'Battery Health', operator: 'Greater than', values: ['1', '2'] })),
    ).toEqual(['criteria.values']);
    expect(pathsOf(withLeaf({ field: 'Battery Health', operator: 'Less than', values: ['many'] }))).toEqual([
      'criteria.values[0]',
    ]);
    expect(pathsOf(withLeaf({ field: 'Battery Health', operator: 'Equal', values: ['1', 'x'] }))).toEqual([
      'criteria.values[1]',
    ]);
  });

  it.each([['yesterday'], ['2025-06-01T12:00:00'], ['2025-02-30'], ['06/01/2025']])(
    'rejects the date %j',
    (value) => {
      // Act / Assess
      expect(pathsOf(withLeaf({ field: 'Last Report', operator: 'Greater than', values: [value] }))).toEqual([
        'criteria.values[0]',
      ]);
    },
  );

  it.each([['2025-06-01'], ['2025-06-01T12:00:00Z'], ['2025-06-01T12:00:00.123+02:00']])(
    'accepts the date %j',
    (value) => {
      // Act / Assess
      expect(() =>
        parseGroupDefinition(
          'g',
          withLeaf({ field: 'Last Report', operator: 'Less than', values: [value] }),
          SHIPPED_CATALOGUE,
        ),
      ).not.toThrow();
    },
  );

  it('takes exactly one non-negative number of days for the day operators', () => {
    // Act / Assess
    expect(pathsOf(withLeaf({ field: 'Last Report', operator: 'Older than days', values: ['-1'] }))).toEqual([
      'criteria.values[0]',
    ]);
    expect(
      pathsOf(withLeaf({ field: 'Last Report', operator: 'Within last days', values: ['a week'] })),
    ).toEqual(['criteria.values[0]']);
    expect(
      pathsOf(withLeaf({ field: 'Last Report', operator: 'Within last days', values: ['1', '2'] })),
    ).toEqual(['criteria.values']);
  });

  it('rejects a membership value that cannot be a group id', () => {
    // Act / Assess
    expect(pathsOf(withLeaf({ field: 'Group', operator: 'Member of group', values: ['a b'] }))).toEqual([
      'criteria.values[0]',
    ]);
  });
});

describe('parseGroupDefinition: alert', () => {
  it('requires a severity when alert.on is not empty', () => {
    // Act / Assess
    expect(problems({ name: 'G', criteria: failedLeaf, alert: { on: ['exit'] } })).toEqual([
      { path: 'alert.severity', message: 'is required when "alert.on" is not empty' },
    ]);
  });

  it('rejects unknown events, severities and properties', () => {
    // Act / Assess
    expect(
      pathsOf({
        name: 'G',
        criteria: failedLeaf,
        alert: { on: ['enter', 'stay'], severity: 'urgent', to: 'x' },
      }),
    ).toEqual(['alert.to', 'alert.on[1]', 'alert.severity']);
    expect(pathsOf({ name: 'G', criteria: failedLeaf, alert: { severity: 'high' } })).toEqual(['alert.on']);
    expect(pathsOf({ name: 'G', criteria: failedLeaf, alert: 'high' })).toEqual(['alert']);
  });
});
