// Field definitions as data: parsing and canonical spelling, the re-validation of stored groups
// against a changed catalogue, and the list semantics of multi-valued built-ins in the criteria engine.
import { describe, expect, it } from 'vitest';
import { compileGroups, evaluate, parseGroupDefinition } from '#core/criteria/index.ts';
import { ValidationError } from '#core/errors.ts';
import { parseFieldDefinition, parseFieldType, revalidateGroups } from '#core/field-definitions.ts';
import { SHIPPED_CATALOGUE, SHIPPED_FIELDS } from '#core/shipped-catalogue.ts';

describe('parseFieldDefinition', () => {
  it('spells a definition canonically and gives a Text its default limit', () => {
    expect(
      parseFieldDefinition('company', 'Tier', {
        type: 'drop down',
        options: ['Gold', 'Silver'],
        default: 'gold',
      }),
    ).toEqual({
      name: 'Tier',
      level: 'COMPANY',
      type: 'Dropdown',
      options: ['Gold', 'Silver'],
      default: 'Gold',
    });
    expect(parseFieldDefinition('ENDPOINT', 'Notes', { type: 'Text Area' })).toMatchObject({
      maxLength: 10_000,
    });
  });

  it('knows the RMM type spellings and refuses the unknown', () => {
    expect(['Checkbox', 'text box', 'NUMBER', 'Date Time', 'dropdown'].map(parseFieldType)).toEqual([
      'Flag',
      'Text',
      'Number',
      'Date',
      'Dropdown',
    ]);
    expect(parseFieldType('Password')).toBeUndefined();
  });

  it('reports every problem with its path', () => {
    try {
      parseFieldDefinition('SITE', ' Padded', {
        type: 'Flag',
        options: ['x'],
        default: 'yes',
        writtenValues: ['a'],
      });
      expect.unreachable();
    } catch (e: unknown) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).details.map((d) => d.path).sort()).toEqual([
        'name',
        'options',
        'writtenValues',
      ]);
    }
  });
});

describe('revalidateGroups', () => {
  const tier = parseFieldDefinition('COMPANY', 'Tier', { type: 'Dropdown', options: ['Gold', 'Silver'] });
  const catalogue = revalidateGroups([...SHIPPED_FIELDS, tier], []);
  const gold = parseGroupDefinition(
    'gold',
    { name: 'Gold', blocks: [[{ field: 'Tier', operator: 'Equal', values: ['Gold'] }]] },
    catalogue,
  );

  it('accepts a change every group still fits', () => {
    const wider = { ...tier, options: ['Gold', 'Silver', 'Bronze'] };
    expect(() => revalidateGroups([...SHIPPED_FIELDS, wider], [gold])).not.toThrow();
  });

  it('names the group and the value a removed option breaks', () => {
    const narrower = { ...tier, options: ['Silver'] };
    expect(() => revalidateGroups([...SHIPPED_FIELDS, narrower], [gold])).toThrow(
      /groups\.gold\.blocks\[0\]\[0\]\.values\[0\]/,
    );
  });

  it('names the group reading a field that is gone', () => {
    expect(() => revalidateGroups(SHIPPED_FIELDS, [gold])).toThrow(/groups\.gold\.blocks\[0\]\[0\]\.field/);
  });
});

describe('multi-valued built-ins in criteria', () => {
  const run = (operator: string, values: string[], list: string[] | undefined) => {
    const def = parseGroupDefinition(
      'g',
      { name: 'g', blocks: [[{ field: 'Installed Software', operator, values }]] },
      SHIPPED_CATALOGUE,
    );
    const set = compileGroups([def], { catalogue: SHIPPED_CATALOGUE });
    const facts = list === undefined ? {} : { 'ENDPOINT:Installed Software': list };
    return evaluate(set, facts, 0).has('g');
  };
  const apps = ['Google Chrome', 'Microsoft Teams', '7-Zip'];

  it('Contains any of holds when any element contains any value, ignoring case', () => {
    expect(run('Contains any of', ['CHROME'], apps)).toBe(true);
    expect(run('Contains any of', ['firefox'], apps)).toBe(false);
  });

  it('Contains all of holds when each value is contained by some element', () => {
    expect(run('Contains all of', ['chrome', 'teams'], apps)).toBe(true);
    expect(run('Contains all of', ['chrome', 'firefox'], apps)).toBe(false);
  });

  it('Equal holds when an element equals a value; Not Equal when none does', () => {
    expect(run('Equal', ['7-zip'], apps)).toBe(true);
    expect(run('Equal', ['7'], apps)).toBe(false);
    expect(run('Not Equal', ['7'], apps)).toBe(true);
  });

  it('an empty or unset list is blank and contains nothing', () => {
    expect(run('Is Blank', ['True'], [])).toBe(true);
    expect(run('Is Blank', ['True'], undefined)).toBe(true);
    expect(run('Is Blank', ['False'], apps)).toBe(true);
    expect(run('Does Not Contain any of', ['chrome'], [])).toBe(true);
    expect(run('Begins with', ['google'], apps)).toBe(true);
    expect(run('Ends with', ['zip'], apps)).toBe(true);
  });
});
