import { describe, expect, it } from 'vitest';
import { defineCatalogue } from '#core/catalogue.ts';
import { compileGroups, evaluate, type Facts, parseGroupDefinition } from '#core/criteria/index.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { FACT } from '#test/fixtures/fact-keys.ts';

// The shipped catalogue has no Number field; the engine takes the catalogue as a parameter.
const FIELDS = defineCatalogue([
  ...SHIPPED_CATALOGUE.fields,
  { name: 'Battery Health', level: 'ENDPOINT', type: 'Number' },
]);

const {
  status: STATUS,
  host: HOST,
  os: OS,
  enable: ENABLE,
  siteDisable: SITE_DISABLE,
  lastReport: LAST_REPORT,
} = FACT;
const BATTERY = 'ENDPOINT:Battery Health';

const NOW = Date.parse('2025-06-15T12:00:00.000Z');
const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** One group with these criteria, compiled; answers whether the facts make an endpoint a member. */
function matcher(criteria: unknown): (facts: Facts, now?: number) => boolean {
  const set = compileGroups([parseGroupDefinition('g', { name: 'G', criteria }, FIELDS)], {
    catalogue: FIELDS,
  });
  return (facts, now = NOW) => evaluate(set, facts, now).has('g');
}

describe('Equal and Not Equal on Text', () => {
  it('matches the whole value ignoring case, against any of the values', () => {
    // Prepare
    const equal = matcher({ field: 'Hostname', operator: 'Equal', values: ['laptop-042', 'desk-1'] });

    // Act / Assess
    expect(equal({ [HOST]: 'LAPTOP-042' })).toBe(true);
    expect(equal({ [HOST]: 'Desk-1' })).toBe(true);
    expect(equal({ [HOST]: 'laptop-0421' })).toBe(false);
  });

  it('treats an unset field as empty text', () => {
    // Prepare
    const equal = matcher({ field: 'Hostname', operator: 'Equal', values: ['x'] });
    const notEqual = matcher({ field: 'Hostname', operator: 'Not Equal', values: ['x'] });
    const equalEmpty = matcher({ field: 'Hostname', operator: 'Equal', values: [''] });

    // Act / Assess
    expect(equal({})).toBe(false);
    expect(equal({ [HOST]: '' })).toBe(false);
    expect(notEqual({})).toBe(true);
    expect(notEqual({ [HOST]: 'X' })).toBe(false);
    expect(equalEmpty({})).toBe(true);
    expect(equalEmpty({ [HOST]: '' })).toBe(true);
    expect(equalEmpty({ [HOST]: 'x' })).toBe(false);
  });

  it('compares non-ASCII text ignoring case', () => {
    // Prepare
    const equal = matcher({ field: 'Hostname', operator: 'Equal', values: ['ÉCOLE-PC'] });

    // Act / Assess
    expect(equal({ [HOST]: 'école-pc' })).toBe(true);
  });
});

describe('Equal and Not Equal on Dropdown', () => {
  it('matches canonical and differently cased stored values', () => {
    // Prepare
    const windows = matcher({ field: 'os type', operator: 'equal', values: ['WINDOWS'] });

    // Act / Assess
    expect(windows({ [OS]: 'Windows' })).toBe(true);
    expect(windows({ [OS]: 'windows' })).toBe(true);
    expect(windows({ [OS]: 'macOS' })).toBe(false);
    expect(windows({})).toBe(false);
  });

  it('Not Equal holds for an unset dropdown and for every other option', () => {
    // Prepare
    const notServer = matcher({ field: 'Endpoint Type', operator: 'Not Equal', values: ['Server'] });

    // Act / Assess
    expect(notServer({})).toBe(true);
    expect(notServer({ 'ENDPOINT:Endpoint Type': 'Laptop' })).toBe(true);
    expect(notServer({ 'ENDPOINT:Endpoint Type': 'Server' })).toBe(false);
  });
});

describe('Contains any of, Does Not Contain any of, Contains all of', () => {
  it('Contains any of finds a substring ignoring case', () => {
    // Prepare
    const failed = matcher({
      field: 'BitLocker Key Backup Status',
      operator: 'Contains any of',
      values: ['failed'],
    });

    // Act / Assess
    expect(failed({ [STATUS]: '| C: - FAILED - 123456-789012; Azure AD |' })).toBe(true);
    expect(failed({ [STATUS]: '| All BitLocker keys are backed up successfully. |' })).toBe(false);
    expect(failed({ [STATUS]: '' })).toBe(false);
    expect(failed({})).toBe(false);
  });

  it('Contains any of is a substring match on a Dropdown', () => {
    // Prepare
    const workstation = matcher({
      field: 'Enable BitLocker Key Backup',
      operator: 'Contains any of',
      values: ['Windows Workstation'],
    });

    // Act / Assess
    expect(workstation({ [ENABLE]: 'Windows Workstation and Server' })).toBe(true);
    expect(workstation({ [ENABLE]: 'Windows Workstation' })).toBe(true);
    expect(workstation({ [ENABLE]: 'Windows Server' })).toBe(false);
  });

  it('Contains any of with several values needs one of them', () => {
    // Prepare
    const missing = matcher({
      field: 'BitLocker Key Backup Status',
      operator: 'Contains any of',
      values: ['Not Available', 'Key: Not Found', 'lost'],
    });

    // Act / Assess
    expect(missing({ [STATUS]: '| D: - Key: Not Found |' })).toBe(true);
    expect(missing({ [STATUS]: 'key not available' })).toBe(true);
    expect(missing({ [STATUS]: 'LOST' })).toBe(true);
    expect(missing({ [STATUS]: 'BitLocker Disabled' })).toBe(false);
  });

  it('Does Not Contain any of holds for an unset field and fails on any hit', () => {
    // Prepare
    const clean = matcher({
      field: 'BitLocker Key Backup Status',
      operator: 'Does Not Contain any of',
      values: ['failed', 'not found'],
    });

    // Act / Assess
    expect(clean({})).toBe(true);
    expect(clean({ [STATUS]: '' })).toBe(true);
    expect(clean({ [STATUS]: 'BitLocker Disabled' })).toBe(true);
    expect(clean({ [STATUS]: '| D: - Key: NOT FOUND |' })).toBe(false);
  });

  it('Contains all of needs every value', () => {
    // Prepare
    const both = matcher({
      field: 'BitLocker Key Backup Status',
      operator: 'Contains all of',
      values: ['failed', 'local ad'],
    });

    // Act / Assess
    expect(both({ [STATUS]: '| C: - FAILED - 1; Azure AD | D: - FAILED - 2; Local AD |' })).toBe(true);
    expect(both({ [STATUS]: '| C: - FAILED - 1; Azure AD |' })).toBe(false);
    expect(both({})).toBe(false);
  });
});

describe('Begins with and Ends with', () => {
  it('Begins with matches a prefix of any value ignoring case', () => {
    // Prepare
    const prefix = matcher({ field: 'Hostname', operator: 'Begins with', values: ['LAPTOP-', 'nb-'] });

    // Act / Assess
    expect(prefix({ [HOST]: 'laptop-042' })).toBe(true);
    expect(prefix({ [HOST]: 'NB-7' })).toBe(true);
    expect(prefix({ [HOST]: 'desk-laptop-1' })).toBe(false);
    expect(prefix({})).toBe(false);
  });

  it('Ends with matches a suffix of any value ignoring case', () => {
    // Prepare
    const suffix = matcher({ field: 'Hostname', operator: 'Ends with', values: ['.CONTOSO.LOCAL'] });

    // Act / Assess
    expect(suffix({ [HOST]: 'pc1.contoso.local' })).toBe(true);
    expect(suffix({ [HOST]: 'pc1.contoso.local.evil' })).toBe(false);
    expect(suffix({})).toBe(false);
  });
});

describe('Is Blank', () => {
  it('True holds for unset and empty values only', () => {
    // Prepare
    const blank = matcher({ field: 'BitLocker Key Backup Status', operator: 'Is Blank', values: ['True'] });

    // Act / Assess
    expect(blank({})).toBe(true);
    expect(blank({ [STATUS]: '' })).toBe(true);
    expect(blank({ [STATUS]: ' ' })).toBe(false);
    expect(blank({ [STATUS]: 'BitLocker Disabled' })).toBe(false);
  });

  it('False holds for any value, a false Flag included', () => {
    // Prepare
    const present = matcher({
      field: 'Disable BitLocker Key Backup',
      level: 'SITE',
      operator: 'Is Blank',
      values: ['false'],
    });

    // Act / Assess
    expect(present({ [SITE_DISABLE]: false })).toBe(true);
    expect(present({ [SITE_DISABLE]: true })).toBe(true);
    expect(present({})).toBe(false);
  });
});

describe('Equal and Not Equal on Flag', () => {
  it('compares a Flag as True/False text ignoring case', () => {
    // Prepare
    const off = matcher({
      field: 'Disable BitLocker Key Backup',
      level: 'SITE',
      operator: 'Equal',
      values: ['false'],
    });
    const on = matcher({
      field: 'Disable BitLocker Key Backup',
      level: 'SITE',
      operator: 'Equal',
      values: [true],
    });

    // Act / Assess
    expect(off({ [SITE_DISABLE]: false })).toBe(true);
    expect(off({ [SITE_DISABLE]: true })).toBe(false);
    expect(on({ [SITE_DISABLE]: true })).toBe(true);
    expect(on({ [SITE_DISABLE]: false })).toBe(false);
  });

  it('an unset Flag equals neither True nor False', () => {
    // Prepare
    const off = matcher({
      field: 'Disable BitLocker Key Backup',
      level: 'SITE',
      operator: 'Equal',
      values: ['False'],
    });
    const notOff = matcher({
      field: 'Disable BitLocker Key Backup',
      level: 'SITE',
      operator: 'Not Equal',
      values: ['False'],
    });
    const either = matcher({
      field: 'Disable BitLocker Key Backup',
      level: 'SITE',
      operator: 'Equal',
      values: ['True', 'False'],
    });

    // Act / Assess
    expect(off({})).toBe(false);
    expect(notOff({})).toBe(true);
    expect(either({})).toBe(false);
    expect(either({ [SITE_DISABLE]: true })).toBe(true);
  });
});

describe('Number operators', () => {
  it('Equal compares numerically', () => {
    // Prepare
    const equal = matcher({ field: 'Battery Health', operator: 'Equal', values: ['42.0', 7] });

    // Act / Assess
    expect(equal({ [BATTERY]: 42 })).toBe(true);
    expect(equal({ [BATTERY]: 7 })).toBe(true);
    expect(equal({ [BATTERY]: 42.5 })).toBe(false);
    expect(equal({})).toBe(false);
  });

  it('Greater than and Less than compare numerically and are false when unset', () => {
    // Prepare
    const greater = matcher({ field: 'Battery Health', operator: 'Greater than', values: ['9'] });
    const less = matcher({ field: 'Battery Health', operator: 'Less than', values: ['9'] });

    // Act / Assess
    expect(greater({ [BATTERY]: 10 })).toBe(true);
    expect(greater({ [BATTERY]: 9 })).toBe(false);
    expect(less({ [BATTERY]: 8.99 })).toBe(true);
    expect(less({ [BATTERY]: 9 })).toBe(false);
    expect(greater({})).toBe(false);
    expect(less({})).toBe(false);
  });
});

describe('Date operators', () => {
  it('Equal compares instants across time zones', () => {
    // Prepare
    const equal = matcher({ field: 'Last Report', operator: 'Equal', values: ['2025-06-01T12:00:00+02:00'] });

    // Act / Assess
    expect(equal({ [LAST_REPORT]: '2025-06-01T10:00:00.000Z' })).toBe(true);
    expect(equal({ [LAST_REPORT]: '2025-06-01T12:00:00.000Z' })).toBe(false);
  });

  it('Greater than and Less than compare instants and are false when unset or unparsable', () => {
    // Prepare
    const later = matcher({ field: 'Last Report', operator: 'Greater than', values: ['2025-06-01'] });
    const earlier = matcher({
      field: 'Last Report',
      operator: 'Less than',
      values: ['2025-06-01T00:00:00Z'],
    });

    // Act / Assess
    expect(later({ [LAST_REPORT]: '2025-06-01T00:00:00.001Z' })).toBe(true);
    expect(later({ [LAST_REPORT]: '2025-06-01T00:00:00.000Z' })).toBe(false);
    expect(earlier({ [LAST_REPORT]: '2025-05-31T23:59:59.999Z' })).toBe(true);
    expect(later({})).toBe(false);
    expect(earlier({})).toBe(false);
    expect(later({ [LAST_REPORT]: 'soon' })).toBe(false);
    expect(earlier({ [LAST_REPORT]: 'soon' })).toBe(false);
  });

  it('Older than days holds only beyond N × 24 h', () => {
    // Prepare
    const older = matcher({ field: 'Last Report', operator: 'Older than days', values: ['7'] });

    // Act / Assess
    expect(older({ [LAST_REPORT]: iso(NOW - 7 * DAY) })).toBe(false);
    expect(older({ [LAST_REPORT]: iso(NOW - 7 * DAY - 1) })).toBe(true);
    expect(older({ [LAST_REPORT]: iso(NOW + DAY) })).toBe(false);
    expect(older({})).toBe(false);
  });

  it('Within last days holds up to and including N × 24 h, and for future dates', () => {
    // Prepare
    const within = matcher({ field: 'Last Report', operator: 'Within last days', values: ['7'] });

    // Act / Assess
    expect(within({ [LAST_REPORT]: iso(NOW - 7 * DAY) })).toBe(true);
    expect(within({ [LAST_REPORT]: iso(NOW - 7 * DAY - 1) })).toBe(false);
    expect(within({ [LAST_REPORT]: iso(NOW + DAY) })).toBe(true);
    expect(within({})).toBe(false);
  });

  it('day operators follow the clock passed to evaluate, fractions of days included', () => {
    // Prepare
    const older = matcher({ field: 'Last Report', operator: 'Older than days', values: ['0.5'] });
    const facts = { [LAST_REPORT]: iso(NOW) };

    // Act / Assess
    expect(older(facts, NOW + DAY / 2)).toBe(false);
    expect(older(facts, NOW + DAY / 2 + 1)).toBe(true);
  });
});

describe('all, any and not', () => {
  it('not inverts its node, unset fields included', () => {
    // Prepare
    const notFailed = matcher({
      not: { field: 'BitLocker Key Backup Status', operator: 'Contains any of', values: ['FAILED'] },
    });

    // Act / Assess
    expect(notFailed({})).toBe(true);
    expect(notFailed({ [STATUS]: 'FAILED' })).toBe(false);
  });

  it('combines all and any', () => {
    // Prepare
    const windowsAndAnyStatus = matcher({
      all: [
        { field: 'OS Type', operator: 'Equal', values: ['Windows'] },
        {
          any: [
            { field: 'BitLocker Key Backup Status', operator: 'Contains any of', values: ['failed'] },
            { field: 'BitLocker Key Backup Status', operator: 'Is Blank', values: ['True'] },
          ],
        },
      ],
    });

    // Act / Assess
    expect(windowsAndAnyStatus({ [OS]: 'Windows' })).toBe(true);
    expect(windowsAndAnyStatus({ [OS]: 'Windows', [STATUS]: 'FAILED' })).toBe(true);
    expect(windowsAndAnyStatus({ [OS]: 'Windows', [STATUS]: 'ok' })).toBe(false);
    expect(windowsAndAnyStatus({ [OS]: 'macOS' })).toBe(false);
  });
});

describe('evaluate', () => {
  it('reads each evaluation’s own facts when the set is reused', () => {
    // Prepare
    const failed = matcher({
      any: [
        { field: 'BitLocker Key Backup Status', operator: 'Contains any of', values: ['failed'] },
        { field: 'BitLocker Key Backup Status', operator: 'Begins with', values: ['x'] },
      ],
    });

    // Act
    const first = failed({ [STATUS]: 'FAILED' });
    const second = failed({ [STATUS]: 'ok' });
    const third = failed({ [STATUS]: 'x failed' });

    // Assess
    expect([first, second, third]).toEqual([true, false, true]);
  });
});
