// Property-based fuzzing of the criteria engine with fast-check: random group definitions (criteria
// trees of all / any / not and RMM blocks, membership references between groups) over the shipped
// catalogue plus a Number and a Date field, evaluated for random facts by the production engine
// (parseGroupDefinition, compileGroups, the generated code) and by the reference evaluator written
// from docs/api.md (test/helpers/reference-criteria.ts). Both must give the same membership.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineCatalogue } from '#core/catalogue.ts';
import { compileGroups, evaluate, parseGroupDefinition } from '#core/criteria/index.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { definitionArb, factsArb, NOW } from '#test/helpers/criteria-arbitraries.ts';
import { type RefGroup, referenceMembership } from '#test/helpers/reference-criteria.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2_147_483_647);
const RUNS = 800;
const FACTS_PER_RUN = 12;

// The shipped catalogue has no Number field and no Date field but Last Report; the engine takes the
// catalogue as a parameter, so these two make every field type appear.
const CATALOGUE = defineCatalogue([
  ...SHIPPED_CATALOGUE.fields,
  { name: 'Free Space GB', level: 'ENDPOINT', type: 'Number' },
  { name: 'Last Key Rotation', level: 'SITE', type: 'Date' },
]);
const IDS = ['Alpha', 'beta', 'Gamma-3', 'delta_4'];

/** 1–4 groups; group i may reference groups before it, in any case. */
const groupSet = fc
  .tuple(...IDS.map((id, i) => definitionArb(CATALOGUE, IDS.slice(0, i), `Group ${id}`)))
  .chain((defs) =>
    fc
      .integer({ min: 1, max: defs.length })
      .map((n) => defs.slice(0, n).map((definition, i): RefGroup => ({ id: IDS[i] as string, definition }))),
  );

const sorted = (s: Iterable<string>) => [...s].sort();

describe('fuzzing the criteria engine against a reference evaluator (fast-check)', () => {
  it('gives the reference membership for random groups and facts', () => {
    console.log(`criteria fuzz seed ${SEED} (FUZZ_SEED=${SEED} npm test -- fuzz-criteria reproduces)`);
    const started = performance.now();
    let cases = 0;
    let members = 0;
    fc.assert(
      fc.property(
        groupSet,
        fc.array(factsArb(CATALOGUE), { minLength: FACTS_PER_RUN, maxLength: FACTS_PER_RUN }),
        fc.constantFrom(0, 0, 1, -1, 999_999),
        (groups, factsList, clockShift) => {
          // Prepare: valid definitions by the contract, so parsing must accept every one.
          const parsed = groups.map((g) => parseGroupDefinition(g.id, g.definition, CATALOGUE));
          const set = compileGroups(parsed, { catalogue: CATALOGUE });
          const now = NOW + clockShift;
          for (const facts of factsList) {
            // Act
            const actual = sorted(evaluate(set, facts, now));
            const expected = sorted(referenceMembership(CATALOGUE.fields, groups, facts, now));
            // Assess
            expect(actual, JSON.stringify({ groups, facts, now })).toEqual(expected);
            cases++;
            members += expected.length;
          }
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    const ms = Math.round(performance.now() - started);
    console.log(`criteria fuzz: ${cases} evaluations, ${members} memberships, ${ms} ms`);
    // Both outcomes occur often enough for the comparison to mean something.
    expect(members).toBeGreaterThan(cases / 10);
    expect(members).toBeLessThan(cases * 2);
  });
});
