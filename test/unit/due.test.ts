// The due instant of an endpoint: the first millisecond at which the clock alone flips a day leaf,
// checked against the criteria engine itself one millisecond either side.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineCatalogue } from '#core/catalogue.ts';
import { compileGroups, evaluate, type Facts, parseGroupDefinition } from '#core/criteria/index.ts';
import { LAST_DUE_MS, nextDueMs } from '#core/due.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { FACT } from '#test/fixtures/fact-keys.ts';
import { definitionArb, factsArb } from '#test/helpers/criteria-arbitraries.ts';
import { seededRandom } from '#test/helpers/random.ts';

const NOW = Date.parse('2026-06-15T12:00:00.000Z');
const DAY = 86_400_000;

const setOf = (...groups: { id: string; criteria: unknown }[]) =>
  compileGroups(
    groups.map((g) => parseGroupDefinition(g.id, { name: g.id, criteria: g.criteria }, SHIPPED_CATALOGUE)),
    { catalogue: SHIPPED_CATALOGUE },
  );
const leaf = (operator: string, days: string) => ({
  field: 'Last Report',
  operator,
  values: [days],
});

describe('nextDueMs', () => {
  it('is the first millisecond at which Older than turns true and Within last turns false', () => {
    const random = seededRandom(20261207);
    for (let run = 0; run < 500; run++) {
      const days = [String(Math.floor(random() * 30)), (random() * 10).toFixed(3), '2.3', '0'][
        run % 4
      ] as string;
      const set = setOf(
        { id: 'older', criteria: leaf('Older than days', days) },
        { id: 'within', criteria: leaf('Within last days', days) },
      );
      // Instants to the nanosecond, a few days either side of NOW.
      const ms = NOW - Math.floor(random() * 40 * 86_400_000) + Math.floor(random() * 5 * 86_400_000);
      const ns = String(Math.floor(random() * 1e9)).padStart(9, '0');
      const facts: Facts = { [FACT.lastReport]: `${new Date(ms).toISOString().slice(0, 19)}.${ns}Z` };
      const due = nextDueMs(set, facts, NOW);
      const at = (t: number) => [...evaluate(set, facts, t)].sort().join(',');
      if (due === undefined) {
        // Already older: stays so.
        expect(at(NOW)).toBe('older');
        expect(at(NOW + 400 * 86_400_000)).toBe('older');
        continue;
      }
      expect(due).toBeGreaterThan(NOW);
      expect(at(due - 1)).toBe('within');
      expect(at(due)).toBe('older');
    }
  });

  it('takes the earliest flip of every day leaf, whatever group or branch it is in', () => {
    const set = setOf(
      { id: 'week', criteria: leaf('Older than days', '7') },
      {
        id: 'two',
        criteria: { not: { all: [leaf('Within last days', '2'), leaf('Older than days', '30')] } },
      },
    );
    const reported = '2026-06-14T12:00:00Z';
    expect(nextDueMs(set, { [FACT.lastReport]: reported }, NOW)).toBe(
      Date.parse(reported) + 2 * 86_400_000 + 1,
    );
    // Once past two days, the next flip is the week.
    expect(nextDueMs(set, { [FACT.lastReport]: reported }, NOW + 2 * 86_400_000)).toBe(
      Date.parse(reported) + 7 * 86_400_000 + 1,
    );
  });

  it('has no due instant without a day leaf, for an unset fact, or past year 9999', () => {
    expect(
      nextDueMs(
        setOf({ id: 'g', criteria: { field: 'Hostname', operator: 'Is Blank', values: ['True'] } }),
        {},
        NOW,
      ),
    ).toBeUndefined();
    const week = setOf({ id: 'g', criteria: leaf('Older than days', '7') });
    expect(week.clockLeaves).toEqual([{ key: FACT.lastReport, spanMs: 7 * 86_400_000, spanNs: 0 }]);
    expect(nextDueMs(week, {}, NOW)).toBeUndefined();
    expect(nextDueMs(week, { [FACT.lastReport]: '9999-12-30T00:00:00Z' }, NOW)).toBeUndefined();
    expect(nextDueMs(week, { [FACT.lastReport]: '9999-12-20T00:00:00Z' }, NOW)).toBeLessThanOrEqual(
      LAST_DUE_MS,
    );
  });

  it('lists a repeated day leaf once', () => {
    const set = setOf(
      { id: 'a', criteria: leaf('Older than days', '7') },
      { id: 'b', criteria: { any: [leaf('Within last days', '7'), leaf('Older than days', '7.0')] } },
    );
    expect(set.clockLeaves).toHaveLength(1);
  });
});

// Random group sets (trees, blocks, membership references) and facts, as the criteria fuzzer makes
// them: no membership may change between now and the due instant, and none at all without one.
describe('nextDueMs on random groups (fast-check)', () => {
  const CATALOGUE = defineCatalogue([
    ...SHIPPED_CATALOGUE.fields,
    { name: 'Last Key Rotation', level: 'SITE', type: 'Date' },
  ]);
  const IDS = ['a', 'b', 'c'];
  const groupSet = fc.tuple(...IDS.map((id, i) => definitionArb(CATALOGUE, IDS.slice(0, i), `Group ${id}`)));
  const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2_147_483_647);

  it('keeps every membership until the due instant, and for ever without one', () => {
    let withDue = 0;
    fc.assert(
      fc.property(
        groupSet,
        factsArb(CATALOGUE),
        fc.integer({ min: -3 * DAY, max: 3 * DAY }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (defs, facts, shift, between) => {
          const set = compileGroups(
            defs.map((d, i) => parseGroupDefinition(IDS[i] as string, d, CATALOGUE)),
            { catalogue: CATALOGUE },
          );
          const now = NOW + shift;
          const at = (t: number) => [...evaluate(set, facts, t)].sort().join(',');
          const due = nextDueMs(set, facts, now);
          const context = JSON.stringify({ defs, facts, now, due });
          if (due === undefined) {
            for (const later of [now + 1, now + DAY, now + 3_650 * DAY])
              expect(at(later), context).toBe(at(now));
            return;
          }
          withDue++;
          expect(due, context).toBeGreaterThan(now);
          const inside = now + Math.floor(between * (due - 1 - now));
          for (const t of [due - 1, inside]) expect(at(t), context).toBe(at(now));
        },
      ),
      { numRuns: 400, seed: SEED },
    );
    // Day leaves with a value occur often enough for the property to say something.
    expect(withDue).toBeGreaterThan(20);
  });
});
