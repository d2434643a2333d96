// Date criteria to the nanosecond and day counts to the exact day, as docs/api.md §5 states them.
// Regression tests for two bugs the criteria fuzzing (fuzz-criteria.test.ts) found.
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

describe('day operators measure N × 24 h exactly', () => {
  // Regression: the span was N × 86,400,000 in floating point; 2.3 days came out 0.00000003 ms
  // short, so an age of exactly 2.3 days was "older than 2.3 days" and not "within the last 2.3".
  it('counts an age of exactly N days as within and not older', () => {
    const exactly = { [FACT.lastReport]: '2026-06-13T04:48:00Z' }; // NOW − 2.3 days
    expect(lastReport('Older than days', '2.3')(exactly)).toBe(false);
    expect(lastReport('Within last days', '2.3')(exactly)).toBe(true);
  });

  it('decides a nanosecond either side of the boundary', () => {
    const before = { [FACT.lastReport]: '2026-06-13T04:47:59.999999999Z' };
    const after = { [FACT.lastReport]: '2026-06-13T04:48:00.000000001Z' };
    expect(lastReport('Older than days', '2.3')(before)).toBe(true);
    expect(lastReport('Within last days', '2.3')(before)).toBe(false);
    expect(lastReport('Older than days', '2.3')(after)).toBe(false);
    expect(lastReport('Within last days', '2.3')(after)).toBe(true);
  });

  it('handles spans with a sub-millisecond part (10⁻⁹ days is 86.4 µs)', () => {
    const older = lastReport('Older than days', '0.000000001');
    expect(older({ [FACT.lastReport]: '2026-06-15T11:59:59.999913599Z' })).toBe(true); // 86.401 µs
    expect(older({ [FACT.lastReport]: '2026-06-15T11:59:59.999913600Z' })).toBe(false); // 86.4 µs
    expect(lastReport('Within last days', '-0')({ [FACT.lastReport]: '2026-06-15T12:00:00Z' })).toBe(true);
  });

  it('is false for an unset Date either way', () => {
    expect(lastReport('Older than days', '1')({})).toBe(false);
    expect(lastReport('Within last days', '1')({})).toBe(false);
  });
});
