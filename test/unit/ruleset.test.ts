import { describe, expect, it } from 'vitest';
import { defineCatalogue } from '#core/catalogue.ts';
import { parseGroupDefinition } from '#core/criteria/index.ts';
import { shippedGroupDefinitions } from '#core/group-pack.ts';
import { buildTransition, changedEndpointFacts, factsFor } from '#core/membership.ts';
import { buildRuleset, RulesetError, readsLastReport } from '#core/ruleset.ts';
import { FIELD, SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';

const WITHOUT_STATUS = defineCatalogue(SHIPPED_CATALOGUE.fields.filter((f) => f.name !== FIELD.backupStatus));

const endpoint = {
  endpointId: 'LAPTOP-1',
  companyId: 'contoso',
  siteId: 'hq',
  hostname: 'LAPTOP-1',
  osType: 'Windows',
  endpointType: 'Laptop',
  observedAt: '2026-11-26T10:00:00.000Z',
  observedAtMs: Date.parse('2026-11-26T10:00:00.000Z'),
  observedKey: '2026-11-26T10:00:00.000000000Z',
  fields: { [FIELD.backupStatus]: SCRIPT_OUTPUT.failed },
  groups: {},
  rev: 1,
  grev: 0,
};

describe('buildRuleset', () => {
  it('compiles the stored groups against the catalogue and keeps the revision they were read at', () => {
    const ruleset = buildRuleset(SHIPPED_CATALOGUE, shippedGroupDefinitions(), 7);
    expect(ruleset.revision).toBe(7);
    expect(ruleset.catalogue).toBe(SHIPPED_CATALOGUE);
    expect(ruleset.groups.groups.map((g) => g.id)).toContain('bitlocker-key-backup-failed');
  });

  it('fails at load, naming every group and field the catalogue lacks and the revision', () => {
    let error: unknown;
    try {
      buildRuleset(WITHOUT_STATUS, shippedGroupDefinitions(), 3);
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toBeInstanceOf(RulesetError);
    const { problems, revision, message } = error as RulesetError;
    expect(revision).toBe(3);
    expect(problems.map((p) => p.path)).toEqual([
      'groups.bitlocker-key-backup-failed.blocks[0][0].field',
      'groups.bitlocker-key-backup-successful.blocks[0][0].field',
      'groups.bitlocker-key-missing.blocks[0][0].field',
    ]);
    expect(problems[0]?.message).toBe(`reads field "${FIELD.backupStatus}", which the catalogue lacks`);
    expect(message).toMatch(/^Group set revision 3 cannot be loaded: groups\.bitlocker-key-backup-failed/);
  });

  it('tells whether the clock alone can change a membership, and whether Last Report is read', () => {
    const shipped = buildRuleset(SHIPPED_CATALOGUE, shippedGroupDefinitions(), 1);
    expect(shipped.groups.hasTimeBased).toBe(false);
    expect(readsLastReport(shipped)).toBe(false);
    const silent = parseGroupDefinition(
      'silent',
      { name: 'Silent', criteria: { field: FIELD.lastReport, operator: 'Older than days', values: ['1'] } },
      SHIPPED_CATALOGUE,
    );
    const withSilent = buildRuleset(SHIPPED_CATALOGUE, [silent], 1);
    expect(withSilent.groups.hasTimeBased).toBe(true);
    expect(readsLastReport(withSilent)).toBe(true);
  });
});

describe('the catalogue a ruleset carries', () => {
  it('decides which endpoint facts exist and which one alerts quote as the status', () => {
    const shipped = buildRuleset(SHIPPED_CATALOGUE, shippedGroupDefinitions(), 1);
    const facts = factsFor(shipped.catalogue, endpoint);
    const entered = buildTransition({ groupId: 'bitlocker-key-backup-failed', event: 'entered' }, shipped, {
      endpoint,
      site: undefined,
      company: undefined,
      facts,
      occurredAt: endpoint.observedAt,
      grev: 1,
    });
    expect(entered.statusText).toBe(SCRIPT_OUTPUT.failed);

    expect(factsFor(WITHOUT_STATUS, endpoint)[`ENDPOINT:${FIELD.backupStatus}`]).toBeUndefined();
    const changed = { ...endpoint, fields: { [FIELD.backupStatus]: SCRIPT_OUTPUT.success } };
    expect(changedEndpointFacts(SHIPPED_CATALOGUE, endpoint, changed)).toEqual([
      `ENDPOINT:${FIELD.backupStatus}`,
    ]);
    expect(changedEndpointFacts(WITHOUT_STATUS, endpoint, changed)).toEqual([]);
  });
});
