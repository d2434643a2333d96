// Date criteria to the nanosecond, as docs/api.md §5 states them (regression tests for a bug the
// criteria fuzzing found).
import { describe, expect, it } from 'vitest';
import { compileGroups, evaluate, type Facts, parseGroupDefinition } from '#core/criteria/index.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { FACT } from '#test/fixtures/fact-keys.ts';

const NOW = Date.parse('2026-06-15T12:00:00.000Z');

function matcher(criteria: unknown): (facts: Facts, now?: number) => boolean {
  const set = compileGroups([parseGroupDefinition('g', { name: 'G', criteria }, SHIPPED_CATALOGUE)], {
    catalogue: SHIPPED_CATALOGUE,
  });
  return (facts, now = NOW) => evaluate(set, facts, now).has('g');
}
const lastReport = (operator: string, value: string) =>
  matcher({ field: 'Last Report', operator, values: [value] });

describe('Date criteria compare instants to the nanosecond', () => {
  // Regression: Date facts and values were compared as epoch milliseconds, so two instants less
  // than 1 ms apart were "the same instant", though reports are ordered to the nanosecond.
  it('tells apart instants less than a millisecond apart', () => {
    const at = { [FACT.lastReport]: '2026-06-14T12:00:00.0000005Z' };
    expect(lastReport('Equal', '2026-06-14T12:00:00Z')(at)).toBe(false);
    expect(lastReport('Not Equal', '2026-06-14T12:00:00Z')(at)).toBe(true);
    expect(lastReport('Greater than', '2026-06-14T12:00:00Z')(at)).toBe(true);
    expect(lastReport('Less than', '2026-06-14T12:00:00.000000501Z')(at)).toBe(true);
    expect(lastReport('Greater than', '2026-06-14')(at)).toBe(true);
  });

  it('still takes one instant written in two zones as the same', () => {
    const at = { [FACT.lastReport]: '2026-06-14T14:00:00.123456789+02:00' };
    expect(lastReport('Equal', '2026-06-14T12:00:00.123456789Z')(at)).toBe(true);
    expect(lastReport('Greater than', '2026-06-14T12:00:00.123456789Z')(at)).toBe(false);
    expect(lastReport('Less than', '2026-06-14T12:00:00.123456789Z')(at)).toBe(false);
  });

  it('is false for an unset Date but Not Equal', () => {
    expect(lastReport('Equal', '2026-06-14')({})).toBe(false);
    expect(lastReport('Greater than', '2026-06-14')({})).toBe(false);
    expect(lastReport('Less than', '2026-06-14')({})).toBe(false);
    expect(lastReport('Not Equal', '2026-06-14')({})).toBe(true);
  });
});
