import { describe, expect, it } from 'vitest';
import { isValidId } from '#core/ids.ts';
import { instantKey, parseIsoDateOrInstant, parseIsoInstant } from '#core/instant.ts';

describe('ISO-8601 instants', () => {
  it('require a time and a zone for report times and Date field values', () => {
    expect(parseIsoInstant('2024-05-01T12:00Z')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseIsoInstant('2024-05-01T12:00:00.5-0130')).toBe(Date.UTC(2024, 4, 1, 13, 30, 0, 500));
    expect(parseIsoInstant('2024-05-01')).toBeUndefined();
    expect(parseIsoInstant('2024-05-01T12:00:00')).toBeUndefined();
    expect(parseIsoInstant(' 2024-05-01T12:00:00Z')).toBeUndefined();
  });

  it('also take a bare date (UTC midnight) and surrounding spaces in criterion values', () => {
    expect(parseIsoDateOrInstant(' 2024-05-01 ')).toBe(Date.UTC(2024, 4, 1));
    expect(parseIsoDateOrInstant('2024-05-01T00:00:00+02:00')).toBe(Date.UTC(2024, 3, 30, 22));
    expect(parseIsoDateOrInstant('2024-04-31')).toBeUndefined();
    expect(parseIsoDateOrInstant('yesterday')).toBeUndefined();
  });

  it('order to the nanosecond through instantKey, whatever the zone', () => {
    expect(instantKey('2026-11-26T11:00:00.123456789+01:00')).toBe('2026-11-26T10:00:00.123456789Z');
    expect(instantKey('2026-11-26T10:00:00Z')).toBe('2026-11-26T10:00:00.000000000Z');
    const earlier = instantKey('2026-11-26T10:00:00.1234567Z') as string;
    const later = instantKey('2026-11-26T10:00:00.1234568Z') as string;
    expect(earlier < later).toBe(true);
    expect(instantKey('2026-11-26')).toBeUndefined();
  });
});

describe('isValidId', () => {
  it('takes 1 to 128 code points without / ? # or whitespace', () => {
    expect(isValidId('LAPTOP-042')).toBe(true);
    expect(isValidId('😀'.repeat(128))).toBe(true);
    expect(isValidId('😀'.repeat(129))).toBe(false);
    expect(isValidId('')).toBe(false);
    for (const bad of ['a/b', 'a?b', 'a#b', 'a b', 'a\tb']) expect(isValidId(bad)).toBe(false);
    expect(isValidId(42)).toBe(false);
  });
});
