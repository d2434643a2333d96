import { describe, expect, it } from 'vitest';
import { compileGroups, evaluate, type Facts } from '#core/criteria/index.ts';
import { SHIPPED_GROUP_IDS, shippedGroupDefinitions } from '#core/group-pack.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { FACT } from '#test/fixtures/fact-keys.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';

const {
  status: STATUS,
  enable: ENABLE,
  siteDisable: SITE_DISABLE,
  endpointDisable: ENDPOINT_DISABLE,
  os: OS,
  type: TYPE,
} = FACT;
const NOW = Date.parse('2025-06-15T12:00:00Z');

const { enabled, failed, successful, missing } = SHIPPED_GROUP_IDS;
const set = compileGroups(shippedGroupDefinitions(), { catalogue: SHIPPED_CATALOGUE });

/** A Windows laptop of a company that backs up workstation keys, flags at their defaults. */
function laptop(overrides: Facts = {}): Facts {
  return {
    [ENABLE]: 'Windows Workstation',
    [SITE_DISABLE]: false,
    [ENDPOINT_DISABLE]: false,
    [OS]: 'Windows',
    [TYPE]: 'Laptop',
    ...overrides,
  };
}

describe('shipped group pack: definitions', () => {
  it('ships the four groups of DESIGN §2 with their binding ids and names, in the RMM blocks shape', () => {
    // Act
    const defs = shippedGroupDefinitions();

    // Assess
    expect(defs.map((d) => [d.id, d.name])).toEqual([
      ['bitlocker-key-backup-enabled', 'BitLocker Key Backup Enabled'],
      ['bitlocker-key-backup-failed', 'BitLocker Key Backup Failed'],
      ['bitlocker-key-backup-successful', 'BitLocker Key Backup Successful'],
      ['bitlocker-key-missing', 'BitLocker Key Missing'],
    ]);
    expect(defs.map((d) => d.blocks?.length)).toEqual([2, 1, 1, 1]);
  });

  it('alerts on Failed entering and exiting and on Key Missing entering, high; the others not', () => {
    // Act
    const alerts = Object.fromEntries(shippedGroupDefinitions().map((d) => [d.id, d.alert]));

    // Assess
    expect(alerts).toEqual({
      [enabled]: undefined,
      [failed]: { on: ['enter', 'exit'], severity: 'high' },
      [successful]: undefined,
      [missing]: { on: ['enter'], severity: 'high' },
    });
  });

  it('reads the six facts of the BitLocker solution and nothing time-based', () => {
    // Assess
    expect(set.readKeys).toEqual(new Set([ENABLE, OS, TYPE, SITE_DISABLE, ENDPOINT_DISABLE, STATUS]));
    expect(set.hasTimeBased).toBe(false);
  });
});

describe('shipped group pack: status groups against the script’s real outputs', () => {
  it.each([
    [SCRIPT_OUTPUT.failed, [failed]],
    [SCRIPT_OUTPUT.failedTwoVolumes, [failed]],
    [SCRIPT_OUTPUT.keyNotFound, [missing]],
    [SCRIPT_OUTPUT.success, [successful]],
    [SCRIPT_OUTPUT.notJoined, []],
    [SCRIPT_OUTPUT.moduleUnavailable, []],
    [SCRIPT_OUTPUT.disabled, []],
  ])('%s → %j', (status, expected) => {
    // Prepare
    const facts = { [STATUS]: status };

    // Act
    const groups = evaluate(set, facts, NOW);

    // Assess
    expect([...groups]).toEqual(expected);
  });

  it('puts an endpoint without a status in no status group', () => {
    // Act / Assess
    expect(evaluate(set, {}, NOW)).toEqual(new Set());
  });

  it('matches a key reported as Not Available too, which the RMM’s own pack looks for', () => {
    // Act / Assess
    expect(evaluate(set, { [STATUS]: '| C: - Key: Not Available |' }, NOW)).toEqual(new Set([missing]));
  });
});

describe('shipped group pack: Key Backup Enabled', () => {
  it.each<[string, Facts, boolean]>([
    ['a Windows laptop where workstations are enabled', {}, true],
    [
      'a Windows desktop where workstations and servers are enabled',
      { [TYPE]: 'Desktop', [ENABLE]: 'Windows Workstation and Server' },
      true,
    ],
    ['a Windows virtual machine where workstations are enabled', { [TYPE]: 'Virtual Machine' }, true],
    ['a Windows laptop where only servers are enabled', { [ENABLE]: 'Windows Server' }, false],
    ['a Windows server where servers are enabled', { [TYPE]: 'Server', [ENABLE]: 'Windows Server' }, true],
    [
      'a Windows server where workstations and servers are enabled',
      { [TYPE]: 'Server', [ENABLE]: 'Windows Workstation and Server' },
      true,
    ],
    ['a Windows server where only workstations are enabled', { [TYPE]: 'Server' }, false],
    ['a Windows laptop where the company disabled backup', { [ENABLE]: 'Disabled' }, false],
    ['a Windows laptop of a company that never chose', { [ENABLE]: undefined }, false],
    ['a Windows laptop at a site that disables backup', { [SITE_DISABLE]: true }, false],
    ['a Windows laptop that disables backup itself', { [ENDPOINT_DISABLE]: true }, false],
    [
      'a Windows server at a site that disables backup',
      { [TYPE]: 'Server', [ENABLE]: 'Windows Server', [SITE_DISABLE]: true },
      false,
    ],
    [
      'a macOS laptop where workstations and servers are enabled',
      { [OS]: 'macOS', [ENABLE]: 'Windows Workstation and Server' },
      false,
    ],
    [
      'a Linux server where servers are enabled',
      { [OS]: 'Linux', [TYPE]: 'Server', [ENABLE]: 'Windows Server' },
      false,
    ],
    ['a Windows endpoint of unknown type where workstations are enabled', { [TYPE]: undefined }, true],
    ['an endpoint of unknown OS', { [OS]: undefined }, false],
  ])('%s: %s', (_name, overrides, expected) => {
    // Prepare
    const facts = laptop(overrides);

    // Act
    const groups = evaluate(set, facts, NOW);

    // Assess
    expect(groups.has(enabled)).toBe(expected);
  });

  it('is independent of the status groups', () => {
    // Act
    const groups = evaluate(set, laptop({ [STATUS]: SCRIPT_OUTPUT.failed }), NOW);

    // Assess
    expect(groups).toEqual(new Set([enabled, failed]));
  });
});
