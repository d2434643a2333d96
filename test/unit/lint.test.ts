// Group lint: each rule with a case where it fires and one where it must not, the shipped pack, and
// the RMM's own "BitLocker Key Missing" that can never match.
import { describe, expect, it } from 'vitest';
import { type LintWarning, lintGroup, parseGroupDefinition } from '#core/criteria/index.ts';
import { shippedGroupDefinitions } from '#core/group-pack.ts';
import { catalogueOf, SHIPPED_FIELDS } from '#core/shipped-catalogue.ts';

const catalogue = catalogueOf([
  ...SHIPPED_FIELDS,
  { name: 'Compliant', level: 'ENDPOINT', type: 'Text', maxLength: 10, writtenValues: ['True', 'False'] },
  { name: 'Reboots', level: 'ENDPOINT', type: 'Number' },
]);
const lint = (blocks: unknown[][]): LintWarning[] =>
  lintGroup(parseGroupDefinition('g', { name: 'g', blocks }, catalogue), catalogue);
const rules = (ws: readonly LintWarning[]) => ws.map((w) => `${w.rule} ${w.path}`);
const STATUS = 'BitLocker Key Backup Status';
const ENABLE = 'Enable BitLocker Key Backup';
const leaf = (field: string, operator: string, values: string[], level?: string) => ({
  field,
  operator,
  values,
  ...(level === undefined ? {} : { level }),
});

describe('lintGroup', () => {
  it('flags the RMM Key Missing group, which looks for a value the script never writes, as never matching', () => {
    const ws = lint([[leaf(STATUS, 'Contains any of', ['Not Available'])]]);
    expect(rules(ws)).toEqual(['unwritten-value blocks[0][0].values[0]', 'never-true blocks']);
    expect(ws[0]?.fix).toContain('| D: - Key: Not Found |');
  });

  it('passes the shipped pack but for the one dead value it keeps for RMM compatibility', () => {
    const all = shippedGroupDefinitions().flatMap((d) =>
      lintGroup(d, catalogue).map((w) => `${d.id} ${w.rule} ${w.path}`),
    );
    expect(all).toEqual(['bitlocker-key-missing unwritten-value blocks[0][0].values[0]']);
  });

  it('unwritten-value: not for values the writer produces', () => {
    expect(lint([[leaf(STATUS, 'Contains any of', ['failed', 'Key: Not Found'])]])).toEqual([]);
    expect(rules(lint([[leaf(STATUS, 'Equal', ['FAILED'])]]))).toContain(
      'unwritten-value blocks[0][0].values[0]',
    );
  });

  it('dropdown-substring: a value matching several options not listed, or none', () => {
    expect(rules(lint([[leaf(ENABLE, 'Contains any of', ['Windows'])]]))).toEqual([
      'dropdown-substring blocks[0][0].values[0]',
    ]);
    expect(rules(lint([[leaf(ENABLE, 'Contains any of', ['Linux'])]]))).toEqual([
      'dropdown-substring blocks[0][0].values[0]',
      'never-true blocks',
    ]);
    expect(lint([[leaf(ENABLE, 'Contains any of', ['Workstation and'])]])).toEqual([]);
  });

  it('excludes-every-option: Does Not Contain leaves that exclude every option', () => {
    expect(rules(lint([[leaf(ENABLE, 'Does Not Contain any of', ['Windows', 'Disabled'])]]))).toContain(
      'excludes-every-option blocks[0][0]',
    );
    expect(rules(lint([[leaf(ENABLE, 'Does Not Contain any of', ['Disabled'])]]))).toEqual([]);
  });

  it('never-true / always-true: Is Blank on a field with a default', () => {
    const disable = 'Disable BitLocker Key Backup';
    expect(rules(lint([[leaf(disable, 'Is Blank', ['True'], 'SITE')]]))).toEqual([
      'never-true blocks[0][0]',
      'never-true blocks',
    ]);
    expect(rules(lint([[leaf(disable, 'Is Blank', ['False'], 'SITE')]]))).toEqual([
      'always-true blocks[0][0]',
      'always-true blocks',
    ]);
    expect(lint([[leaf(STATUS, 'Is Blank', ['True'])]])).toEqual([]);
  });

  it('never-true: contradicting criteria in one block, not across blocks', () => {
    expect(
      rules(lint([[leaf('OS Type', 'Equal', ['Windows']), leaf('OS Type', 'Equal', ['Linux'])]])),
    ).toEqual(['never-true blocks[0]', 'never-true blocks']);
    expect(
      rules(lint([[leaf('Reboots', 'Greater than', ['5']), leaf('Reboots', 'Less than', ['3'])]])),
    ).toContain('never-true blocks[0]');
    expect(lint([[leaf('OS Type', 'Equal', ['Windows'])], [leaf('OS Type', 'Equal', ['Linux'])]])).toEqual(
      [],
    );
  });

  it('flag-substring: flag values compared by substring', () => {
    expect(rules(lint([[leaf('Compliant', 'Contains any of', ['true'])]]))).toEqual([
      'flag-substring blocks[0][0]',
    ]);
    expect(lint([[leaf('Compliant', 'Equal', ['True'])]])).toEqual([]);
  });

  it('duplicate: the same criterion twice in a block, or the same block twice', () => {
    const failed = leaf(STATUS, 'Contains any of', ['FAILED']);
    expect(rules(lint([[failed, { ...failed, values: ['failed'] }]]))).toEqual(['duplicate blocks[0][1]']);
    expect(rules(lint([[failed], [failed]]))).toEqual(['duplicate blocks[1]']);
    expect(lint([[failed], [leaf(STATUS, 'Contains any of', ['Key: Not Found'])]])).toEqual([]);
  });

  it('lints criteria trees too: a not of something always true never holds', () => {
    const def = parseGroupDefinition(
      't',
      { name: 't', criteria: { not: leaf('Disable BitLocker Key Backup', 'Is Blank', ['False'], 'SITE') } },
      catalogue,
    );
    expect(rules(lintGroup(def, catalogue))).toEqual(['always-true criteria.not', 'never-true criteria']);
  });
});
