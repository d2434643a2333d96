import { describe, expect, it } from 'vitest';
import {
  type CompiledGroupSet,
  compileGroups,
  compileWithCandidate,
  dependentsOf,
  evaluate,
  type GroupDefinition,
  parseGroupDefinition,
} from '#core/criteria/index.ts';
import { ValidationError } from '#core/errors.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';

const STATUS = 'ENDPOINT:BitLocker Key Backup Status';
const OS = 'ENDPOINT:OS Type';
const NOW = Date.parse('2025-06-15T12:00:00Z');

const statusHas = (text: string) => ({
  field: 'BitLocker Key Backup Status',
  operator: 'Contains any of',
  values: [text],
});
const memberOf = (...ids: string[]) => ({ field: 'Group', operator: 'Member of group', values: ids });
const notMemberOf = (...ids: string[]) => ({ field: 'Group', operator: 'Not member of group', values: ids });

function group(id: string, criteria: unknown): GroupDefinition {
  return parseGroupDefinition(id, { name: id, criteria }, SHIPPED_CATALOGUE);
}

function compileError(run: () => CompiledGroupSet): { path: string; message: string }[] {
  try {
    run();
  } catch (e: unknown) {
    if (e instanceof ValidationError) return e.details.map((d) => ({ ...d }));
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('compileGroups: references', () => {
  it('rejects a reference to an unknown group, naming the group and the value', () => {
    // Prepare
    const defs = [group('a', { all: [statusHas('x'), memberOf('ghost')] })];

    // Act / Assess
    expect(compileError(() => compileGroups(defs, { catalogue: SHIPPED_CATALOGUE }))).toEqual([
      { path: 'groups.a.criteria.all[1].values[0]', message: 'unknown group "ghost"' },
    ]);
  });

  it('reports paths into the candidate when one is validated against the others', () => {
    // Prepare
    const existing = [group('a', statusHas('x'))];
    const candidate = parseGroupDefinition(
      'b',
      {
        name: 'B',
        blocks: [[statusHas('y')], [memberOf('a', 'nope')]],
      },
      SHIPPED_CATALOGUE,
    );

    // Act / Assess
    expect(compileError(() => compileWithCandidate(existing, candidate, SHIPPED_CATALOGUE))).toEqual([
      { path: 'blocks[1][0].values[1]', message: 'unknown group "nope"' },
    ]);
  });

  it('resolves references ignoring case to the stored id', () => {
    // Prepare
    const defs = [group('Base-Group', statusHas('failed')), group('derived', memberOf('BASE-group'))];

    // Act
    const set = compileGroups(defs, { catalogue: SHIPPED_CATALOGUE });

    // Assess
    const derived = set.get('DERIVED');
    expect(derived?.dependsOn).toEqual(['Base-Group']);
    expect(derived?.definition.criteria).toEqual({
      field: 'Group',
      operator: 'Member of group',
      values: ['Base-Group'],
    });
    expect(evaluate(set, { [STATUS]: 'FAILED' }, NOW)).toEqual(new Set(['Base-Group', 'derived']));
  });

  it('rejects two groups whose ids differ only in case', () => {
    // Prepare
    const defs = [group('dup', statusHas('x')), group('DUP', statusHas('y'))];

    // Act / Assess
    expect(
      compileError(() => compileGroups(defs, { catalogue: SHIPPED_CATALOGUE })).map((p) => p.path),
    ).toEqual(['groups.DUP.id']);
  });
});

describe('compileGroups: cycles', () => {
  it('rejects a group that references itself', () => {
    // Prepare
    const defs = [group('a', { any: [statusHas('x'), memberOf('A')] })];

    // Act / Assess
    expect(compileError(() => compileGroups(defs, { catalogue: SHIPPED_CATALOGUE }))).toEqual([
      { path: 'groups.a.criteria.any[1].values[0]', message: 'cycle of group references: a → a' },
    ]);
  });

  it('rejects a 2-cycle introduced by the candidate, at the candidate’s reference', () => {
    // Prepare
    const existing = [group('a', memberOf('b')), group('b', statusHas('x'))];
    const candidate = group('b', { not: memberOf('a') });

    // Act / Assess
    expect(compileError(() => compileWithCandidate(existing, candidate, SHIPPED_CATALOGUE))).toEqual([
      { path: 'criteria.not.values[0]', message: 'cycle of group references: b → a → b' },
    ]);
  });

  it('rejects a 3-cycle and names every group of it', () => {
    // Prepare
    const existing = [group('a', memberOf('b')), group('b', memberOf('c')), group('c', statusHas('x'))];
    const candidate = group('c', { all: [statusHas('x'), notMemberOf('z', 'a')] });
    const z = group('z', statusHas('z'));

    // Act / Assess
    expect(compileError(() => compileWithCandidate([...existing, z], candidate, SHIPPED_CATALOGUE))).toEqual([
      { path: 'criteria.all[1].values[1]', message: 'cycle of group references: c → a → b → c' },
    ]);
  });

  it('accepts a diamond, which is no cycle', () => {
    // Prepare
    const defs = [
      group('top', { all: [memberOf('left'), memberOf('right')] }),
      group('left', memberOf('base')),
      group('right', memberOf('base')),
      group('base', statusHas('x')),
    ];

    // Act
    const set = compileGroups(defs, { catalogue: SHIPPED_CATALOGUE });

    // Assess
    expect(set.groups.map((g) => g.id)).toEqual(['base', 'left', 'right', 'top']);
  });
});

describe('compileGroups: order and membership', () => {
  it('orders a chain so that each group follows the groups it references', () => {
    // Prepare
    const defs = [
      group('c', { all: [memberOf('b'), { field: 'OS Type', operator: 'Equal', values: ['Windows'] }] }),
      group('b', memberOf('a')),
      group('a', statusHas('failed')),
    ];

    // Act
    const set = compileGroups(defs, { catalogue: SHIPPED_CATALOGUE });

    // Assess
    expect(set.groups.map((g) => g.id)).toEqual(['a', 'b', 'c']);
    expect(evaluate(set, { [STATUS]: 'FAILED', [OS]: 'Windows' }, NOW)).toEqual(new Set(['a', 'b', 'c']));
    expect(evaluate(set, { [STATUS]: 'FAILED', [OS]: 'macOS' }, NOW)).toEqual(new Set(['a', 'b']));
    expect(evaluate(set, { [OS]: 'Windows' }, NOW)).toEqual(new Set());
  });

  it('Member of group needs one listed group; Not member of group needs none', () => {
    // Prepare
    const set = compileGroups(
      [
        group('failed', statusHas('failed')),
        group('missing', statusHas('not found')),
        group('trouble', memberOf('failed', 'missing')),
        group('healthy', notMemberOf('failed', 'missing')),
      ],
      { catalogue: SHIPPED_CATALOGUE },
    );

    // Act
    const failed = evaluate(set, { [STATUS]: 'FAILED' }, NOW);
    const missing = evaluate(set, { [STATUS]: 'Key: Not Found' }, NOW);
    const fine = evaluate(set, { [STATUS]: 'All BitLocker keys are backed up successfully.' }, NOW);

    // Assess
    expect(failed).toEqual(new Set(['failed', 'trouble']));
    expect(missing).toEqual(new Set(['missing', 'trouble']));
    expect(fine).toEqual(new Set(['healthy']));
  });

  it('evaluates a membership under not', () => {
    // Prepare
    const set = compileGroups([group('a', statusHas('x')), group('b', { not: memberOf('a') })], {
      catalogue: SHIPPED_CATALOGUE,
    });

    // Act / Assess
    expect(evaluate(set, { [STATUS]: 'x' }, NOW)).toEqual(new Set(['a']));
    expect(evaluate(set, {}, NOW)).toEqual(new Set(['b']));
  });
});

describe('compileGroups: what each group reads', () => {
  it('lists own fact keys, dependencies and time-basedness per group and for the set', () => {
    // Prepare
    const defs = [
      group('recent', { field: 'Last Report', operator: 'Within last days', values: ['1'] }),
      group('windows', {
        all: [
          { field: 'OS Type', operator: 'Equal', values: ['Windows'] },
          { field: 'Disable BitLocker Key Backup', level: 'SITE', operator: 'Equal', values: ['False'] },
          memberOf('recent'),
        ],
      }),
    ];

    // Act
    const set = compileGroups(defs, { catalogue: SHIPPED_CATALOGUE });

    // Assess
    expect(set.get('recent')).toMatchObject({
      reads: ['ENDPOINT:Last Report'],
      dependsOn: [],
      timeBased: true,
    });
    expect(set.get('windows')).toMatchObject({
      reads: ['ENDPOINT:OS Type', 'SITE:Disable BitLocker Key Backup'],
      dependsOn: ['recent'],
      timeBased: false,
    });
    expect(set.readKeys).toEqual(
      new Set(['ENDPOINT:Last Report', 'ENDPOINT:OS Type', 'SITE:Disable BitLocker Key Backup']),
    );
    expect(set.hasTimeBased).toBe(true);
  });

  it('has no time-based groups when no day operator is used', () => {
    // Act
    const set = compileGroups([group('a', statusHas('x'))], { catalogue: SHIPPED_CATALOGUE });

    // Assess
    expect(set.hasTimeBased).toBe(false);
  });
});

describe('dependentsOf', () => {
  it('lists the groups that reference a group, ignoring case', () => {
    // Prepare
    const set = compileGroups(
      [group('a', statusHas('x')), group('b', memberOf('a')), group('c', statusHas('y'))],
      { catalogue: SHIPPED_CATALOGUE },
    );

    // Act / Assess
    expect(dependentsOf(set, 'A')).toEqual(['b']);
    expect(dependentsOf(set, 'c')).toEqual([]);
    expect(dependentsOf(set, 'unknown')).toEqual([]);
  });
});

describe('compileWithCandidate', () => {
  it('replaces the stored group of the same id, ignoring case', () => {
    // Prepare
    const existing = [group('a', statusHas('old'))];
    const candidate = group('A', statusHas('new'));

    // Act
    const set = compileWithCandidate(existing, candidate, SHIPPED_CATALOGUE);

    // Assess
    expect(set.groups.map((g) => g.id)).toEqual(['A']);
    expect(evaluate(set, { [STATUS]: 'new' }, NOW)).toEqual(new Set(['A']));
  });
});

describe('compileGroups: generated evaluator', () => {
  it('treats quotes, backslashes and line separators in values as plain text', () => {
    // Prepare
    const hostile = ['"); globalThis.pwned = true; ("', '\\', '\u2028', '`$', '{1}`'].join('');
    const set = compileGroups([group('g', { field: 'Hostname', operator: 'Equal', values: [hostile] })], {
      catalogue: SHIPPED_CATALOGUE,
    });

    // Act
    const hit = evaluate(set, { 'ENDPOINT:Hostname': hostile.toUpperCase() }, NOW);
    const miss = evaluate(set, { 'ENDPOINT:Hostname': 'x' }, NOW);

    // Assess
    expect(hit).toEqual(new Set(['g']));
    expect(miss).toEqual(new Set());
    expect((globalThis as { pwned?: boolean }).pwned).toBeUndefined();
  });

  it('gives the same answers when blocks share criteria, also when one block is only the shared part', () => {
    // Prepare
    const windows = { field: 'OS Type', operator: 'Equal', values: ['Windows'] };
    const laptop = { field: 'Endpoint Type', operator: 'Equal', values: ['Laptop'] };
    const set = compileGroups(
      [
        parseGroupDefinition(
          'shared',
          {
            name: 'S',
            blocks: [
              [windows, laptop],
              [windows, statusHas('failed')],
            ],
          },
          SHIPPED_CATALOGUE,
        ),
        parseGroupDefinition(
          'subsumed',
          { name: 'S', blocks: [[windows, laptop], [windows]] },
          SHIPPED_CATALOGUE,
        ),
      ],
      { catalogue: SHIPPED_CATALOGUE },
    );

    // Act
    const failedDesktop = evaluate(
      set,
      { [OS]: 'Windows', 'ENDPOINT:Endpoint Type': 'Desktop', [STATUS]: 'FAILED' },
      NOW,
    );
    const okDesktop = evaluate(set, { [OS]: 'Windows', 'ENDPOINT:Endpoint Type': 'Desktop' }, NOW);
    const macLaptop = evaluate(
      set,
      { [OS]: 'macOS', 'ENDPOINT:Endpoint Type': 'Laptop', [STATUS]: 'FAILED' },
      NOW,
    );

    // Assess
    expect(failedDesktop).toEqual(new Set(['shared', 'subsumed']));
    expect(okDesktop).toEqual(new Set(['subsumed']));
    expect(macLaptop).toEqual(new Set());
  });
});
